"""Build a runner (Test, Test Driver, Verification Check) from source once per version.

The seed's ``make()``, moved out of the item folder: sources are copied into a build area
under ``KIM_DIR/builds/<KIM ID>`` and built there; ``runner.models.Build`` keeps the log.
"""

import fcntl
import logging
import os
import shutil
import signal
import subprocess
from pathlib import Path

from django.utils import timezone

from kimsite import config
from repository import kimapi, storage
from repository.errors import PipelineBuildError
from runner import formats

logger = logging.getLogger("pipeline.runner")

#: Seconds one build step may take.
BUILD_TIMEOUT = 900
#: Bytes of build output kept in Build.log.
LOG_LIMIT = 256 * 1024


def build_area() -> Path:
    return Path(config.KIM_DIR) / "builds"


def needs_build(item) -> bool:
    folder = Path(item.path)
    return any((folder / name).is_file() for name in config.SOURCE_BUILD_FILES)


def executable_name(item) -> str:
    return formats.of(item).executable_name(item)


def _run_step(command: list[str], cwd: Path, env: dict) -> tuple[int, str]:
    """Run one build step in its own process group; kill the group past BUILD_TIMEOUT."""
    process = subprocess.Popen(command, cwd=cwd, env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, start_new_session=True)
    try:
        output, _ = process.communicate(timeout=BUILD_TIMEOUT)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        output, _ = process.communicate()
        return -1, output.decode(errors="replace") + f"\n[killed after {BUILD_TIMEOUT} s]\n"
    return process.returncode, output.decode(errors="replace")


def _build(item, area: Path) -> tuple[Path | None, str]:
    """Copy and build; return (executable or None, log)."""
    source, build = area / "src", area / "build"
    for folder in (source, build):
        shutil.rmtree(folder, ignore_errors=True)
    shutil.copytree(item.path, source, symlinks=True)
    # The pipeline's KIM API collection, so find_package/pkg-config see what runs will see.
    env = kimapi.subprocess_environment()
    if (source / "CMakeLists.txt").is_file():
        steps = [["cmake", "-S", str(source), "-B", str(build)],
                 ["cmake", "--build", str(build), "--parallel", "2"]]
        where = [build, source]
    else:
        steps = [["make", "-C", str(source)]]
        where = [source]
    log = []
    for command in steps:
        log.append(f"$ {' '.join(command)}\n")
        code, output = _run_step(command, area, env)
        log.append(output)
        if code != 0:
            log.append(f"[exit status {code}]\n")
            return None, "".join(log)
    name = executable_name(item)
    for folder in where:
        candidate = folder / name
        if candidate.is_file() and os.access(candidate, os.X_OK):
            if folder != source:
                # src/ becomes the whole built item (what the seed's make() left in place), so a
                # test finds a built driver's executable where it finds an unbuilt one's.
                shutil.copy2(candidate, source / name)
            return source / name, "".join(log)
    log.append(f"[the build made no executable named {name} in {', '.join(map(str, where))}]\n")
    return None, "".join(log)


def built_folder(kim_id: str) -> Path | None:
    """The complete built copy of an item (sources and executable) if it was built, else None."""
    from runner.models import Build

    record = Build.objects.filter(kim_id=kim_id, status=Build.Status.SUCCEEDED).first()
    folder = build_area() / kim_id / "src"
    if record is None or not folder.is_dir():
        return None
    return folder


def ensure_built(item, *, rebuild: bool = False) -> Path | None:
    """The built executable of ``item``, building it first if needed; None if it has no source.

    A version is built once: a later call reuses the build (or its failure) unless the sources
    changed or ``rebuild`` is set. Raises PipelineBuildError with the log.
    """
    from runner.models import Build

    if not needs_build(item):
        return None
    area = build_area() / item.kim_id
    area.mkdir(parents=True, exist_ok=True)
    content_hash = storage.folder_hash(Path(item.path))
    # A file lock, so two workers on one machine never build the same version at once.
    with open(build_area() / f"{item.kim_id}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        record = Build.objects.filter(kim_id=item.kim_id).first()
        if record is not None and not rebuild and record.content_hash == content_hash:
            if record.status == Build.Status.SUCCEEDED and Path(record.artifact).is_file():
                return Path(record.artifact)
            if record.status == Build.Status.FAILED:
                raise PipelineBuildError(f"the build of {item.kim_id} failed (not retried without rebuild)",
                                  log=record.log, kim_id=item.kim_id)
        record = record or Build(kim_id=item.kim_id)
        record.status, record.content_hash, record.log = Build.Status.BUILDING, content_hash, ""
        record.finished_at = None
        record.save()
        logger.info("building %s in %s", item.kim_id, area)
        try:
            executable, log = _build(item, area)
        except OSError as exc:
            executable, log = None, f"[the build could not start: {exc}]\n"
        record.log = log[-LOG_LIMIT:]
        record.finished_at = timezone.now()
        record.status = Build.Status.SUCCEEDED if executable else Build.Status.FAILED
        record.artifact = str(executable or "")
        record.save()
    if executable is None:
        logger.warning("build of %s failed", item.kim_id)
        raise PipelineBuildError(f"the build of {item.kim_id} failed", log=record.log, kim_id=item.kim_id)
    return executable
