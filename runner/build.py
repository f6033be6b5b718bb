"""Build a runner (Test, Test Driver, Verification Check) from source once per version.

The seed's ``make()``, moved out of the item folder: sources are copied into a build area
under ``KIM_DIR/builds/<KIM ID>`` and built there; ``runner.models.Build`` keeps the log.
Builds happen when items are imported, scanned or installed (``runner.install``), never in a
job: a run only looks its build up (``built_executable``).
"""

import fcntl
import logging
import os
import shutil
import signal
import subprocess
from pathlib import Path

from django.conf import settings
from django.utils import timezone

from kimsite import config
from repository import kimapi, storage
from repository.errors import PipelineBuildError
from runner import formats, owners, sandbox

logger = logging.getLogger("pipeline.runner")

#: Bytes of build output kept in Build.log.
LOG_LIMIT = 256 * 1024


def build_area() -> Path:
    return Path(config.KIM_DIR) / "builds"


def needs_build(item) -> bool:
    folder = Path(item.path)
    return any((folder / name).is_file() for name in config.SOURCE_BUILD_FILES)


def executable_name(item) -> str:
    return formats.of(item).executable_name(item)


def _run_step(command: list[str], cwd: Path, env: dict, readable=()) -> tuple[int, str]:
    """Run one build step sandboxed (``cwd`` writable) in its own process group; kill the group
    past BUILD_TIMEOUT."""
    limit = settings.BUILD_TIMEOUT
    box = sandbox.Sandbox(scratch=cwd, readable=[config.KIM_API_DIR, *readable])
    box.prepare()
    try:
        process = box.run(command, cwd=cwd, env=sandbox.environment(env, cwd / ".home"),
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          start_new_session=True)
        return _finish_step(process, limit)
    finally:
        box.release()


def _finish_step(process: subprocess.Popen, limit: int) -> tuple[int, str]:
    try:
        output, _ = process.communicate(timeout=limit)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        output, _ = process.communicate()
        return -1, output.decode(errors="replace") + f"\n[killed after {limit} s]\n"
    except BaseException:
        # Interrupted (a timeout alarm, ^C): the compiler must not outlive this process's wish.
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        raise
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
        code, output = _run_step(command, area, env, readable=[Path(item.path)])
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
        # Whose build this is: runner.cleanup fails a "building" row whose owner died.
        record.finished_at, record.owner = None, owners.owner()
        record.save()
        logger.info("building %s in %s", item.kim_id, area)
        try:
            executable, log = _build(item, area)
        except OSError as exc:
            executable, log = None, f"[the build could not start: {exc}]\n"
        record.log = log[-LOG_LIMIT:]
        # On disk too, so an Error can name a file the curator can open.
        (area / "build.log").write_text(log, encoding="utf-8")
        record.finished_at = timezone.now()
        record.status = Build.Status.SUCCEEDED if executable else Build.Status.FAILED
        record.artifact = str(executable or "")
        record.save()
    if executable is None:
        logger.warning("build of %s failed", item.kim_id)
        raise PipelineBuildError(f"the build of {item.kim_id} failed", log=record.log, kim_id=item.kim_id)
    return executable


def built_executable(item) -> Path | None:
    """The executable an earlier build made for ``item`` (None if it needs none); never builds.

    Raises PipelineBuildError, with the build log, when the build failed, or when the item was
    never built (imported before builds moved to import time, or its build was lost): the
    curator builds it with ``manage.py installitems <KIM ID>``.
    """
    from runner.models import Build

    if not needs_build(item):
        return None
    lock_path = build_area() / f"{item.kim_id}.lock"
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    # A build in progress holds this lock: wait for its end rather than run without it.
    with open(lock_path, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_SH)
        record = Build.objects.filter(kim_id=item.kim_id).first()
    log_path = build_area() / item.kim_id / "build.log"
    if record is None:
        raise PipelineBuildError(
            f"{item.kim_id} was never built from its source; build it with "
            f"'manage.py installitems {item.kim_id}'", kim_id=item.kim_id)
    if record.status == Build.Status.BUILDING:  # the lock is free: its builder died
        raise PipelineBuildError(
            f"the build of {item.kim_id} by {record.owner or 'an unknown process'} was "
            f"interrupted; rebuild with 'manage.py installitems --rebuild {item.kim_id}'",
            kim_id=item.kim_id)
    if record.status == Build.Status.FAILED:
        raise PipelineBuildError(
            f"the build of {item.kim_id} failed (its log: {log_path}); fix the source and "
            f"rebuild with 'manage.py installitems --rebuild {item.kim_id}'",
            log=record.log, kim_id=item.kim_id)
    artifact = Path(record.artifact)
    if not artifact.is_file():
        raise PipelineBuildError(f"the built executable of {item.kim_id} ({artifact}) is gone; "
                                 f"rebuild with 'manage.py installitems --rebuild {item.kim_id}'",
                                 kim_id=item.kim_id)
    return artifact


def _runner_classes():
    from repository.models import Test, TestDriver, VerificationCheck

    # Drivers first: a test reaches its built driver with path().
    return (TestDriver, Test, VerificationCheck)


def build_items(items, *, rebuild: bool = False) -> dict[str, list[str]]:
    """Build the runners among ``items`` that ship source; one failure does not stop the others.

    A failure is kept in its Build row (status failed, log), where a run of it finds it.
    Returns the KIM IDs ``{"built": [...], "failed": [...]}``.
    """
    classes = _runner_classes()
    runners = [item for item in items if isinstance(item, classes) and needs_build(item)]
    runners.sort(key=lambda item: next(i for i, c in enumerate(classes) if isinstance(item, c)))
    outcome = {"built": [], "failed": []}
    for item in runners:
        try:
            ensure_built(item, rebuild=rebuild)
        except PipelineBuildError as exc:
            logger.error("%s", exc)
            outcome["failed"].append(item.kim_id)
        else:
            outcome["built"].append(item.kim_id)
    return outcome


def build_sources(*, rebuild: bool = False) -> dict[str, list[str]]:
    """Build every latest test driver, test and check of the repository that ships source."""
    return build_items([item for row_class in _runner_classes()
                        for item in row_class.objects.latest_versions()], rebuild=rebuild)


def build_imported(sender=None, *, items=(), **kwargs) -> None:
    """Receiver of repository.signals.items_imported: build the imported runners from source."""
    build_items(items)
