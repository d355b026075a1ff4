"""course_lib: the small library behind the "LSTMs on very long sequences" course.

Modules are named by concept (profiles, data, metrics, plots, runner, ...). Importing
the package sets Keras' backend to TensorFlow unless the user already chose one, and
quiets TensorFlow's C++/absl log lines (``COURSE_TF_LOGS=1`` turns them back on) when it
is imported before TensorFlow.
"""

import os

from course_lib.environment import apply_quiet_tf_env

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
apply_quiet_tf_env()

__version__ = "0.1.0"

# Where the course lives; the Colab set-up cell and the README badges point here.
REPO_URL = "https://github.com/lstm-long-sequences/course"
