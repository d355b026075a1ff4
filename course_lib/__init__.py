"""course_lib: the small library behind the "LSTMs on very long sequences" course.

Modules are named by concept (profiles, data, metrics, plots, runner, ...). Importing
the package sets Keras' backend to TensorFlow unless the user already chose one.
"""

import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

__version__ = "0.1.0"

# Where the course lives; the Colab set-up cell and the README badges point here.
REPO_URL = "https://github.com/lstm-long-sequences/course"
