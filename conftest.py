"""Pytest set-up shared by the unit tests and nbval's notebook runs.

Notebooks collected by nbval run at the ``smoke`` profile (override with
``COURSE_TEST_PROFILE``) and write their metrics to a throw-away folder, not into
the source tree.
"""

import os
import tempfile

os.environ["COURSE_PROFILE"] = os.environ.get("COURSE_TEST_PROFILE", "smoke")
os.environ.setdefault("COURSE_OUTPUT_DIR", tempfile.mkdtemp(prefix="course-test-output-"))
os.environ.setdefault("MPLBACKEND", "Agg")

collect_ignore_glob = ["tests/fixtures/*", "runs/*", "benchmarks/*"]
