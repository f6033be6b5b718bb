"""Django settings: everything from the environment, SQLite under ``var/`` by default.

``DATABASE_URL`` switches to PostgreSQL, ``REDIS_URL`` switches django-q2 to the Redis broker.
"""

import os
from pathlib import Path

import dj_database_url
from django.core.management.utils import get_random_secret_key

from kimsite import config
from kimsite.env import env_bool, env_int, env_str
from kimsite.logging import build_logging

BASE_DIR = Path(__file__).resolve().parent.parent

DEBUG = env_bool("DEBUG", False)


def machine_secret_key(path: Path) -> str:
    """A random key kept in KIM_DIR, made on first use: never a fixed key in the code.

    Clusters on several machines must share one: they set SECRET_KEY in the environment.
    """
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(get_random_secret_key())
    return path.read_text().strip()


SECRET_KEY = env_str("SECRET_KEY") or machine_secret_key(config.KIM_DIR / "secret_key")

ALLOWED_HOSTS = [h for h in env_str("ALLOWED_HOSTS", "127.0.0.1,localhost").split(",") if h]

# Production behind HTTPS (``manage.py check --deploy`` is clean with these set): off by default,
# so ``runserver`` on 127.0.0.1 keeps working over plain HTTP.
#: Seconds browsers must use HTTPS only (HSTS); 0 = no header. Production: 31536000 (a year).
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", False)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", False)
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", False)
SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", False)
CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", False)
if env_bool("SECURE_PROXY_SSL_HEADER", False):
    # Behind a proxy that ends TLS and says so in X-Forwarded-Proto.
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "repository",
    # runner before django_q: its qcluster command (runner.cluster) replaces django-q2's.
    "runner",
    "django_q",
    "queryapi",
    "public",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "kimsite.urls"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

WSGI_APPLICATION = "kimsite.wsgi.application"


def sqlite_database(path: Path) -> dict:
    """SQLite tuned for a task queue: a busy timeout and IMMEDIATE transactions."""
    return {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": str(path),
        "OPTIONS": {
            "transaction_mode": "IMMEDIATE",
            "timeout": 20,
            "init_command": "PRAGMA busy_timeout=20000; PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        },
    }


DATABASE_URL = env_str("DATABASE_URL")
if DATABASE_URL:
    # Health checks: long-lived queue workers must not reuse a connection the server dropped.
    DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=60, conn_health_checks=True)}
    if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql" \
            and env_bool("PIPELINE_PG_PREPARE", True):
        # A worker sends the same twenty statements for every job: bound on the server, psycopg
        # prepares each after its fifth use, and PostgreSQL soon keeps a generic plan of it
        # instead of planning it for every job (bench_overhead --queries, the last of 100 jobs:
        # 7.2 → 4.9 ms of SQL). A pooler that cannot keep prepared statements: set it to 0.
        options = DATABASES["default"].setdefault("OPTIONS", {})
        options.update(server_side_binding=True, prepare_threshold=5)
else:
    config.KIM_DIR.mkdir(parents=True, exist_ok=True)
    DATABASES = {"default": sqlite_database(config.KIM_DIR / "kimsite.sqlite3")}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = config.KIM_DIR / "static"

LOGGING = build_logging(config.KIM_LOG_DIR, level=env_str("LOG_LEVEL", "INFO"))

# The pipeline's jobs (runner.jobs, runner.director).
#: A job's lease lasts this many heartbeats (PIPELINE_HEARTBEAT_SECONDS) plus the grace: the
#: worker extends it on every heartbeat while the runner runs, so a live worker keeps it and
#: a dead worker's job is queued again within one lease period, not one task timeout.
PIPELINE_LEASE_HEARTBEATS = env_int("PIPELINE_LEASE_HEARTBEATS", 3)
#: Seconds added to the lease for the steps without heartbeats (rendering, bounded by
#: PIPELINE_RENDER_TIMEOUT; reading and writing the results).
PIPELINE_LEASE_GRACE = env_int("PIPELINE_LEASE_GRACE", 45)
#: Seconds a job's task timeout adds to its runner's own (the test's timeout, else
#: RUNNER_TIMEOUT); the sum is bounded by JOB_TIMEOUT.
PIPELINE_JOB_TIMEOUT_MARGIN = env_int("PIPELINE_JOB_TIMEOUT_MARGIN", 60)
#: Dependency chains longer than this are refused (a mistyped dependencies.edn, not science).
PIPELINE_MAX_DEPENDENCY_DEPTH = env_int("PIPELINE_MAX_DEPENDENCY_DEPTH", 8)
#: Bytes of one metadata file an import reads (kimspec.edn, metadata.json, data.edn).
PIPELINE_METADATA_LIMIT = env_int("PIPELINE_METADATA_LIMIT", 8 * 1024 ** 2)
#: Levels of folders an item may have, and entries (files, folders, links) in all.
PIPELINE_ITEM_MAX_DEPTH = env_int("PIPELINE_ITEM_MAX_DEPTH", 32)
PIPELINE_ITEM_MAX_ENTRIES = env_int("PIPELINE_ITEM_MAX_ENTRIES", 100_000)
#: The machine's name in job leases (pipelinestatus, admin); default: the host name.
PIPELINE_NODE_NAME = env_str("PIPELINE_NODE_NAME")

# The runner's processes (runner.execute, runner.build, runner.install).
#: Seconds one build step of an item from source may take (make, cmake, kim-api-collections-management).
BUILD_TIMEOUT = env_int("BUILD_TIMEOUT", 900)
#: Seconds the KIM API worker (repository.kimapi.worker) may take to start, and per model it
#: creates, before it is taken for hung and killed.
KIM_API_WORKER_STARTUP_SECONDS = env_int("KIM_API_WORKER_STARTUP_SECONDS", 30)
KIM_API_WORKER_SECONDS_PER_MODEL = env_int("KIM_API_WORKER_SECONDS_PER_MODEL", 20)
#: Bytes of stdout (and of stderr, kim.log) kept per run; the rest is read and dropped.
RUNNER_OUTPUT_LIMIT = env_int("RUNNER_OUTPUT_LIMIT", 32 * 1024 * 1024)
# The sandbox of every run (runner.sandbox): bubblewrap namespaces and these limits.
#: "off" only on a machine without user namespaces (manage.py check warns).
PIPELINE_SANDBOX = env_str("PIPELINE_SANDBOX", "on")
#: Folders (":"-separated) a run may write besides its scratch copy: a shared cache; the test
#: suite's witness logs. Empty by default.
PIPELINE_SANDBOX_WRITABLE = [p for p in env_str("PIPELINE_SANDBOX_WRITABLE", "").split(":") if p]
#: The pre-warmed runner (runner.warm): a job's Python processes forked from a server that has
#: imported numpy, scipy, ase, kimpy and kim-property once. "0" runs each as a fresh interpreter.
PIPELINE_PREWARM = env_str("PIPELINE_PREWARM", "on")
#: Bytes of address space of a run (RLIMIT_AS): an allocation beyond fails (category resource).
RUNNER_MEMORY_LIMIT = env_int("RUNNER_MEMORY_LIMIT", 4 * 1024 ** 3)
#: Processes and threads of a run (a pids cgroup where writable, else RLIMIT_NPROC).
RUNNER_PROCESS_LIMIT = env_int("RUNNER_PROCESS_LIMIT", 512)
#: Bytes of one file a run writes (RLIMIT_FSIZE).
RUNNER_FILE_SIZE_LIMIT = env_int("RUNNER_FILE_SIZE_LIMIT", 1024 ** 3)
#: Files a run may hold open (RLIMIT_NOFILE).
RUNNER_OPEN_FILES_LIMIT = env_int("RUNNER_OPEN_FILES_LIMIT", 1024)
#: Bytes of a run's output/ folder, all files together (checked when it exits).
RUNNER_OUTPUT_FOLDER_LIMIT = env_int("RUNNER_OUTPUT_FOLDER_LIMIT", 256 * 1024 ** 2)
#: Bytes of results.edn (or the 2012 stdout JSON line) read, and of each file kept with a result.
RUNNER_RESULTS_LIMIT = env_int("RUNNER_RESULTS_LIMIT", 16 * 1024 ** 2)
#: Seconds between two calls of run_pair's heartbeat while a runner runs (a job's lease renewal).
PIPELINE_HEARTBEAT_SECONDS = env_int("PIPELINE_HEARTBEAT_SECONDS", 10)
#: Seconds one render of an input template may take (a template looping for ever is a template fault).
PIPELINE_RENDER_TIMEOUT = env_int("PIPELINE_RENDER_TIMEOUT", 30)
#: Longest string or list a template may build with ``*`` (a memory bomb is a template fault).
PIPELINE_TEMPLATE_MAX_SEQUENCE = env_int("PIPELINE_TEMPLATE_MAX_SEQUENCE", 10_000_000)
#: Largest exponent a template may use with ``**`` (huge integers are a CPU bomb).
PIPELINE_TEMPLATE_MAX_EXPONENT = env_int("PIPELINE_TEMPLATE_MAX_EXPONENT", 1_000)
#: Characters of a rendered input (a template that renders more is a template fault).
PIPELINE_RENDERED_INPUT_LIMIT = env_int("PIPELINE_RENDERED_INPUT_LIMIT", 16 * 1024 ** 2)

# django-q2: the ORM broker on the default database unless REDIS_URL names a Redis server.
# Q_CLUSTER is read once at import; tests use kimsite.settings_test.
#: Seconds a queue's read lock may stay held with a message waiting before the cluster's
#: watchdog takes it for a dead worker's (or monitor's) and releases it (runner.cluster).
PIPELINE_QUEUE_LOCK_PATIENCE = float(env_str("PIPELINE_QUEUE_LOCK_PATIENCE", "5"))
REDIS_URL = env_str("REDIS_URL")
JOB_TIMEOUT = env_int("JOB_TIMEOUT", config.RUNNER_TIMEOUT + 60)
Q_CLUSTER = {
    "name": env_str("Q_CLUSTER_NAME", "kimpipeline"),
    "workers": env_int("Q_WORKERS", 2),
    "timeout": JOB_TIMEOUT,
    # retry must exceed the longest task, or a task is handed out again while it still runs.
    "retry": env_int("Q_RETRY", JOB_TIMEOUT + 120),
    "max_attempts": env_int("Q_MAX_ATTEMPTS", 3),
    "queue_limit": 2,
    "bulk": 1,
    # A worker restarted every 50 tasks paid its start-up again (its warm server, its first
    # cleanup: about 3 s) every 50 jobs; memory is bounded by max_rss (KiB of the worker) instead.
    "recycle": 1000,
    "max_rss": 1024 * 1024,
    "save_limit": 1000,
    "catch_up": False,
    "label": "Pipeline tasks",
}
if REDIS_URL:
    Q_CLUSTER["redis"] = REDIS_URL
else:
    Q_CLUSTER["orm"] = "default"

# The remote repository (issue 9, runner/sync/; docs/SYNC.md): empty RSYNC_ADDRESS = one machine.
RSYNC_ADDRESS = env_str("RSYNC_ADDRESS")  # rsync://HOST[:PORT]/MODULE or [USER@]HOST (ssh)
RSYNC_REMOTE_ROOT = env_str("RSYNC_REMOTE_ROOT")
REAL_READ_PATH = env_str("REAL_READ_PATH", "real-read")
REAL_WRITE_PATH = env_str("REAL_WRITE_PATH", "real-write")
TEMP_READ_PATH = env_str("TEMP_READ_PATH", "temp-read")
TEMP_WRITE_PATH = env_str("TEMP_WRITE_PATH", "temp-write")
RSYNC_FLAGS = env_str("RSYNC_FLAGS", "-rltz --relative")
RSYNC_LOG_FILE_FLAG = env_str("RSYNC_LOG_FILE_FLAG", f"--log-file={config.KIM_LOG_DIR / 'rsync.log'}")
GLOBAL_PORT = env_int("GLOBAL_PORT", 22)
RSYNC_SSH_KEY = env_str("RSYNC_SSH_KEY")
RSYNC_MAX_SIZE = env_str("RSYNC_MAX_SIZE", "1G")
RSYNC_TIMEOUT = env_int("RSYNC_TIMEOUT", 300)
RSYNC_RETRIES = env_int("RSYNC_RETRIES", 4)
RSYNC_BACKOFF = float(env_str("RSYNC_BACKOFF", "2"))
RSYNC_BACKOFF_MAX = float(env_str("RSYNC_BACKOFF_MAX", "60"))
# The OpenKIM query API (queryapi): each query's bounds.
#: Seconds one query may take (SQL and the matching in Python together).
QUERY_TIMEOUT = float(env_str("QUERY_TIMEOUT", "10"))
#: Documents one answer may hold (a larger answer must page with limit and skip).
QUERY_MAX_DOCUMENTS = env_int("QUERY_MAX_DOCUMENTS", 10000)
#: Documents one query may read after SQL's narrowing (a filter naming no indexed key reads all).
QUERY_MAX_SCANNED = env_int("QUERY_MAX_SCANNED", 2000000)
