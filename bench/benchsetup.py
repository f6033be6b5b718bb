"""Django set up for a benchmark: a throw-away KIM_DIR and, unless DATABASE_URL is given, SQLite."""

import os
import sys
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent


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
