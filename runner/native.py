"""Small C programs of the runner, compiled once per source version with the system's compiler.

The python3 shim of the pre-warmed runner (``runner/warm/shim.c``) and the launcher of every
run (``runner/launch.c``) live in ``KIM_DIR/native/``, named by a hash of their source, so a
changed source is compiled again and several workers share one binary.
"""

import contextlib
import functools
import hashlib
import os
import shutil
import subprocess
from pathlib import Path

from kimsite import config


class NotCompiled(Exception):
    """No C compiler, or the source does not compile: the caller's slower path is used."""


@functools.cache
def _digest(source: Path) -> str:
    """The source's hash, read once per process: the launcher is asked for at every run."""
    return hashlib.sha256(source.read_bytes()).hexdigest()[:12]


def compiled(source: Path, name: str) -> Path:
    """The binary of ``source`` (compiled now if it is not there yet)."""
    target = config.KIM_DIR / "native" / f"{name}-{_digest(source)}"
    if target.is_file():
        return target
    compiler = shutil.which("cc") or shutil.which("gcc")
    if compiler is None:
        raise NotCompiled(f"no C compiler to build {source.name}")
    # Written under a name of this process, then renamed: a concurrent worker never runs half a binary.
    partial = target.with_name(f"{target.name}.{os.getpid()}.partial")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        done = subprocess.run([compiler, "-O2", "-o", str(partial), str(source)],
                              capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise NotCompiled(f"{source.name} does not compile: {done.stderr[-500:]}")
        os.replace(partial, target)
    except OSError as exc:  # a folder it cannot write (permissions, a full disk): not the run's fault
        raise NotCompiled(f"{source.name} cannot be built into {target.parent}: {exc}") from exc
    finally:
        with contextlib.suppress(OSError):  # renamed already, or never written
            partial.unlink()
    return target
