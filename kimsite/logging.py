"""The 2012 logger tree: everything under ``pipeline``, to ``logs/pipeline.log`` (rotating) and the console."""

from pathlib import Path


def build_logging(log_dir: Path, level: str = "INFO") -> dict:
    log_dir.mkdir(parents=True, exist_ok=True)
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {
            "pipeline": {
                "format": "%(asctime)s %(levelname)s %(name)s [%(process)d] %(message)s",
            },
        },
        "handlers": {
            "pipeline_file": {
                "class": "logging.handlers.RotatingFileHandler",
                "filename": str(log_dir / "pipeline.log"),
                "maxBytes": 10 * 1024 * 1024,
                "backupCount": 5,
                "formatter": "pipeline",
                "encoding": "utf-8",
            },
            "console": {
                "class": "logging.StreamHandler",
                "formatter": "pipeline",
                "level": "WARNING",
            },
        },
        "loggers": {
            "pipeline": {
                "handlers": ["pipeline_file", "console"],
                "level": level,
                "propagate": False,
            },
            # django-q2 logs every enqueued task at INFO: keep that in the file, off the console.
            "django-q": {"handlers": ["pipeline_file"], "level": "INFO", "propagate": False},
        },
    }
