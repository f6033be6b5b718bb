"""Settings for the test suite: a throw-away KIM_DIR, django-q2 inline.

``TEST_DATABASE_URL`` runs the suite on PostgreSQL instead of SQLite.
"""

import os
import tempfile
from pathlib import Path

os.environ.setdefault("DEBUG", "1")
_scratch = Path(tempfile.mkdtemp(prefix="kimsite-test-"))
os.environ["KIM_DIR"] = str(_scratch)
os.environ["KIM_LOG_DIR"] = str(_scratch / "logs")
if os.environ.get("TEST_DATABASE_URL"):
    os.environ["DATABASE_URL"] = os.environ["TEST_DATABASE_URL"]
else:
    os.environ.pop("DATABASE_URL", None)
os.environ.pop("REDIS_URL", None)

from kimsite.settings import *  # noqa: E402,F403
from kimsite.settings import DATABASES, Q_CLUSTER  # noqa: E402

if os.environ.get("TEST_DATABASE_URL"):
    # A name of its own per run: several suites may share one server.
    DATABASES["default"]["TEST"] = {"NAME": f"test_kimsite_{os.getpid()}"}

TEST_SCRATCH = _scratch
Q_CLUSTER = {**Q_CLUSTER, "sync": True}
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
