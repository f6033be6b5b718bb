"""Where and how a result was computed: the worker environment and the pipelinespec of a run."""

import importlib.metadata
import logging
import platform
import socket
import subprocess
import sys
from functools import lru_cache

from kimsite import config
from repository import kimapi

logger = logging.getLogger("pipeline.runner")


def _package_version(name: str) -> str:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return "absent"


@lru_cache(maxsize=1)
def pipeline_version() -> str:
    """The package version and, in a checkout, the commit (read-only git call)."""
    version = _package_version("kimsite")
    try:
        done = subprocess.run(["git", "-C", str(config.KIM_PIPELINE_DIR), "rev-parse", "--short", "HEAD"],
                              capture_output=True, text=True, timeout=5)
        if done.returncode == 0 and done.stdout.strip():
            version += f"+g{done.stdout.strip()}"
    except (OSError, subprocess.SubprocessError):
        pass
    return version


def environment_fields() -> dict:
    """What identifies this worker's environment; the same for the life of the process."""
    return dict(_environment_fields())


@lru_cache(maxsize=1)
def _environment_fields() -> dict:
    # Asked at every kept outcome: the platform and package metadata are read once.
    return {
        "host": socket.gethostname(),
        "os": platform.platform(),
        "python_version": platform.python_version(),
        "kim_api_version": kimapi.kim_api_version(),
        "kimpy_version": _package_version("kimpy"),
        "pipeline_version": pipeline_version(),
    }


def worker_environment():
    """The WorkerEnvironment row of this worker (made on first use)."""
    from repository.models import WorkerEnvironment

    row, _ = WorkerEnvironment.objects.get_or_create(**environment_fields())
    return row


def interpreter_bin() -> str:
    """The project's .venv/bin (so ``#!/usr/bin/env python3`` in a runner finds kimpy and ase)."""
    venv = config.KIM_PIPELINE_DIR / ".venv" / "bin"
    return str(venv) if venv.is_dir() else str(sys.prefix) + "/bin"
