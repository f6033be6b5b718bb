"""Django set up for a benchmark: a throw-away KIM_DIR and, unless DATABASE_URL is given, SQLite."""

import os
import sys
import tempfile
import time
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent


def scratch_folder(prefix: str) -> Path:
    """A throw-away folder under the project's ``var/bench/``, on the disk where a deployment
    keeps its files (KIM_DIR defaults to ``var/``), and apart from ``/tmp``, which the test
    suite fills and empties.

    On this virtual machine a new file costs anything from 0.02 to 0.8 ms to create, on the
    same disk, minutes apart (measured 2026-12-07; the disk hardly read meanwhile, so not
    evicted metadata; the cause is not established). A job creates about twenty files, so
    that alone moves a job's overhead by several milliseconds from one run to the next.
    """
    return Path(tempfile.mkdtemp(prefix=prefix, dir=bench_root()))


def bench_root() -> Path:
    """Where :func:`scratch_folder` makes its folders (made when missing)."""
    root = PROJECT / "var" / "bench"
    root.mkdir(parents=True, exist_ok=True)
    return root


def setup_django(scratch: Path, *, database_url: str | None = None) -> None:
    sys.path.insert(0, str(PROJECT))
    os.environ["KIM_DIR"] = str(scratch)
    os.environ["KIM_LOG_DIR"] = str(scratch / "logs")
    if database_url:
        os.environ["DATABASE_URL"] = database_url
    else:
        os.environ.pop("DATABASE_URL", None)
    os.environ.setdefault("DEBUG", "1")
    os.environ["DJANGO_SETTINGS_MODULE"] = "kimsite.settings"
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def machine_speed_ms(rounds: int = 5) -> float:
    """The median time of a fixed pure-Python loop (a million additions), in ms: this machine's
    speed at the moment, printed before and after a benchmark's figures so that runs minutes or
    sessions apart can be compared: on the project's virtual machine it moves by a factor of two
    within minutes, with nothing else running."""
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        total = 0
        for number in range(1_000_000):
            total += number
        times.append((time.perf_counter() - started) * 1000)
    return sorted(times)[len(times) // 2]
