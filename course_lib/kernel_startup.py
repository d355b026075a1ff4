# Run by IPython when a kernel starts (the runner and the browser test set PYTHONSTARTUP
# to this file; Binder copies it into the IPython startup folder). It quiets TensorFlow's
# C++/absl log lines even in a notebook that imports keras before course_lib. Set
# COURSE_TF_LOGS=1 to see them. Runs in the notebook's namespace, so it binds no names.
try:
    __import__("course_lib.environment").environment.apply_quiet_tf_env()
except ImportError:  # another environment without the course library: nothing to quiet
    pass
