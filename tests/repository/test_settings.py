"""Settings from the environment: SQLite tuned for a queue, DATABASE_URL, and the pipeline log file."""

import json
import logging
import logging.handlers
import os
import subprocess
import sys
from pathlib import Path

from django.conf import settings
from django.db.utils import ConnectionHandler

from kimsite.logging import build_logging
from kimsite.settings import sqlite_database

PROJECT_DIR = Path(__file__).resolve().parents[2]


def settings_in_subprocess(tmp_path, **environment) -> dict:
    """kimsite.settings as a fresh process sees them with ``environment``."""
    env = {k: v for k, v in os.environ.items()
           if k not in {"DATABASE_URL", "TEST_DATABASE_URL", "REDIS_URL"}}
    env.update(DJANGO_SETTINGS_MODULE="kimsite.settings", KIM_DIR=str(tmp_path / "kim"),
               KIM_LOG_DIR=str(tmp_path / "logs"), SECRET_KEY="not-secret-test-key", **environment)
    code = ("import json; from django.conf import settings; "
            "print(json.dumps({'db': settings.DATABASES['default'], 'q': settings.Q_CLUSTER}, default=str))")
    done = subprocess.run([sys.executable, "-c", code], cwd=PROJECT_DIR, env=env,
                          capture_output=True, text=True, timeout=60, check=True)
    return json.loads(done.stdout)


def test_sqlite_waits_for_locks_and_takes_them_at_begin(tmp_path):
    database = sqlite_database(tmp_path / "kim.sqlite3")
    assert database["NAME"] == str(tmp_path / "kim.sqlite3")
    assert database["OPTIONS"]["transaction_mode"] == "IMMEDIATE"
    assert database["OPTIONS"]["timeout"] >= 5
    assert "busy_timeout=" in database["OPTIONS"]["init_command"]


def test_a_live_sqlite_connection_from_the_settings_has_the_busy_timeout(tmp_path, django_db_blocker):
    # Its own connection, so the PostgreSQL run of the suite checks SQLite's settings too.
    probe = ConnectionHandler({"default": sqlite_database(tmp_path / "probe.sqlite3")})["default"]
    try:
        with django_db_blocker.unblock(), probe.cursor() as cursor:
            cursor.execute("PRAGMA busy_timeout")
            assert cursor.fetchone()[0] == 20000
            cursor.execute("PRAGMA journal_mode")
            assert cursor.fetchone()[0] == "wal"
    finally:
        probe.close()


def test_default_database_is_sqlite_under_kim_dir(tmp_path):
    seen = settings_in_subprocess(tmp_path)
    assert seen["db"]["ENGINE"] == "django.db.backends.sqlite3"
    assert seen["db"]["NAME"] == str(tmp_path / "kim" / "kimsite.sqlite3")
    assert seen["db"]["OPTIONS"]["transaction_mode"] == "IMMEDIATE"
    assert seen["q"]["orm"] == "default" and "redis" not in seen["q"]


def test_database_url_switches_to_postgresql_and_redis_url_to_redis(tmp_path):
    seen = settings_in_subprocess(tmp_path, DATABASE_URL="postgres://kim:pw@db.example:5433/kimdb",
                                  REDIS_URL="redis://cache.example:6379/1")
    db = seen["db"]
    assert db["ENGINE"] == "django.db.backends.postgresql"
    assert (db["NAME"], db["USER"], db["HOST"], int(db["PORT"])) == ("kimdb", "kim", "db.example", 5433)
    assert db["CONN_MAX_AGE"] > 0 and db["CONN_HEALTH_CHECKS"] is True
    assert seen["q"]["redis"] == "redis://cache.example:6379/1" and "orm" not in seen["q"]
    # SQLite's busy timeout is no option of PostgreSQL.
    assert "transaction_mode" not in db.get("OPTIONS", {})
    # A worker's repeated statements are prepared on the server (runner.jobs' test on PostgreSQL).
    assert (db["OPTIONS"]["server_side_binding"], db["OPTIONS"]["prepare_threshold"]) == (True, 5)


def test_prepared_statements_can_be_turned_off_for_a_pooler(tmp_path):
    seen = settings_in_subprocess(tmp_path, DATABASE_URL="postgres://kim@db.example/kimdb",
                                  PIPELINE_PG_PREPARE="0")
    options = seen["db"].get("OPTIONS", {})
    assert "server_side_binding" not in options and "prepare_threshold" not in options


def test_queue_retry_exceeds_timeout():
    assert settings.Q_CLUSTER["retry"] > settings.Q_CLUSTER["timeout"]


def test_pipeline_loggers_write_to_pipeline_log_through_a_rotating_handler():
    log_file = Path(os.environ["KIM_LOG_DIR"]) / "pipeline.log"
    pipeline = logging.getLogger("pipeline")
    rotating = [h for h in pipeline.handlers if isinstance(h, logging.handlers.RotatingFileHandler)]
    assert [Path(h.baseFilename) for h in rotating] == [log_file]
    assert rotating[0].maxBytes > 0 and rotating[0].backupCount > 0

    logging.getLogger("pipeline.x").info("marker 7f3a: a line for the settings test")
    rotating[0].flush()
    assert "pipeline.x" in log_file.read_text() and "marker 7f3a" in log_file.read_text()


def test_build_logging_rotates_in_its_folder(tmp_path):
    config = build_logging(tmp_path / "logs", level="DEBUG")
    handler = config["handlers"]["pipeline_file"]
    assert handler["class"] == "logging.handlers.RotatingFileHandler"
    assert handler["filename"] == str(tmp_path / "logs" / "pipeline.log")
    assert (tmp_path / "logs").is_dir()
    assert config["loggers"]["pipeline"]["level"] == "DEBUG"


def test_file_database_runs_in_wal_mode_with_immediate_transactions(tmp_path):
    env = {k: v for k, v in os.environ.items()
           if k not in {"DATABASE_URL", "TEST_DATABASE_URL", "REDIS_URL"}}
    env.update(DJANGO_SETTINGS_MODULE="kimsite.settings", KIM_DIR=str(tmp_path / "kim"),
               KIM_LOG_DIR=str(tmp_path / "logs"), SECRET_KEY="not-secret-test-key")
    code = ("import django; django.setup(); from django.db import connection; "
            "c = connection.cursor(); "
            "print([c.execute('PRAGMA ' + p).fetchone()[0] for p in ('journal_mode', 'busy_timeout')], "
            "connection.transaction_mode)")
    done = subprocess.run([sys.executable, "-c", code], cwd=PROJECT_DIR, env=env,
                          capture_output=True, text=True, timeout=60, check=True)
    assert done.stdout.split() == ["['wal',", "20000]", "IMMEDIATE"]
