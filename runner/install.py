"""Building model drivers, models and simulator models from source into the pipeline's KIM API collection.

``kim-api-collections-management`` builds each item into a private staging collection; only a
build that succeeded replaces what the pipeline's collection held, so a failure changes nothing.
"""

import fcntl
import logging
import os
import re
import shutil
import signal
import subprocess
import tempfile
from contextlib import contextmanager
from pathlib import Path

from django.conf import settings
from django.utils import timezone

from kimsite import config
from repository import edn, kimapi, kimcodes, storage
from repository.errors import InvalidKIMID, PipelineBuildError, PipelineEDNError
from repository.matching import forget_verdicts
from repository.models import Error, Model, ModelDriver
from runner import build as runner_build
from runner import owners, sandbox
from runner.models import Build

log = logging.getLogger("pipeline.install")

KIND_FOR_LEADER = {"MD": "model-driver", "MO": "portable-model", "SM": "simulator-model"}
TOOL = "kim-api-collections-management"
#: Characters of the build log kept on the Error row.
LOG_TAIL = 6000
_FORTRAN_SUFFIXES = {".f", ".f90", ".F90", ".F", ".f03", ".f08"}
_DRIVER_NAME_RE = re.compile(r'DRIVER_NAME\s+"?([A-Za-z0-9_]+)"?')
_PROJECT_RE = re.compile(r"(?<![A-Za-z0-9_])project\(\s*([A-Za-z0-9_]+)")


def install_item(item, *, rebuild: bool = False, replace_older: bool = True) -> Build:
    """Build one item (a Model/ModelDriver row or an item folder) and install it into the pipeline's collection.

    Returns the Build row. A failure is recorded (Build failed, Error of category build) and raised
    as PipelineBuildError; the collection keeps what it held. An unchanged, installed item is not
    rebuilt unless ``rebuild``. With ``replace_older`` a new version of a model replaces the older
    versions of its lineage in the pipeline's collection once it is installed; drivers keep theirs,
    because models name the exact driver version they were built for.
    """
    folder, kim_id = _source_of(item)
    code = kimcodes.parse_kim_code(kim_id, leader=tuple(KIND_FOR_LEADER), require_version=True,
                                   require_name=True)
    kind = KIND_FOR_LEADER[code.leader]
    storage.require_file(folder, "CMakeLists.txt", kim_id=kim_id)
    content_hash = storage.folder_hash(folder)
    target = kimapi.collection_dir(kind) / kim_id
    with _collection_lock():
        previous = Build.objects.filter(kim_id=kim_id).first()
        if (not rebuild and previous is not None and previous.status == Build.Status.SUCCEEDED
                and previous.content_hash == content_hash and target.is_dir()):
            log.info("%s is installed and unchanged; not rebuilt", kim_id)
            return previous
        build, _ = Build.objects.update_or_create(
            kim_id=kim_id,
            defaults={"status": Build.Status.BUILDING, "content_hash": content_hash, "log": "",
                      "artifact": "", "finished_at": None, "owner": owners.owner()},
        )
        log.info("building %s from %s", kim_id, folder)
        try:
            _preflight(folder, kim_id, code.leader)
            with _staging_area() as staging:
                build_log, staged = _build_in_staging(folder, kim_id, kind, staging)
                _replace(staged, target)
            removed = _remove_older_versions(code, kind) if replace_older and code.leader != "MD" else []
        except PipelineBuildError as exc:
            raise _record_failure(build, kim_id, code.leader, exc.reason,
                                  exc.log or exc.reason) from exc
        build.status = Build.Status.SUCCEEDED
        build.log = build_log
        build.artifact = str(target)
        build.finished_at = timezone.now()
        build.save()
    row_class = ModelDriver if code.leader == "MD" else Model
    row_class.objects.filter(kim_id=kim_id).update(collection="user")
    row_class.objects.filter(kim_id__in=removed, collection="user").update(collection="")
    # A rebuilt item may load (or not) differently: the KIM API's cached verdicts are void.
    forget_verdicts([kim_id, *removed])
    log.info("installed %s into %s", kim_id, target)
    return build


def install_items(items, *, rebuild: bool = False) -> list[Build]:
    """Install several items, drivers first so the models built on them find them installed."""
    ordered = sorted(items, key=lambda item: kimcodes.parse_kim_code(_source_of(item)[1]).leader != "MD")
    return [install_item(item, rebuild=rebuild) for item in ordered]


def install_sources(*, rebuild: bool = False) -> dict[str, list[str]]:
    """Build every latest item of the repository that ships source: models and model drivers
    into the pipeline's KIM API collection, then test drivers, tests and checks (runner.build).

    Unchanged items are left as they are; one failure is recorded and the others still
    build. Returns the KIM IDs ``{"installed": [...], "failed": [...]}``.
    """
    items = [item for row_class in (ModelDriver, Model) for item in row_class.objects.latest_versions()
             if (item.path / "CMakeLists.txt").is_file()]
    outcome = {"installed": [], "failed": []}
    # Drivers first (the order above), so the models built on them find them installed.
    for item in items:
        try:
            install_item(item, rebuild=rebuild)
        except PipelineBuildError as exc:
            log.error("%s", exc)
            outcome["failed"].append(item.kim_id)
        else:
            outcome["installed"].append(item.kim_id)
    runners = runner_build.build_sources(rebuild=rebuild)
    outcome["installed"] += runners["built"]
    outcome["failed"] += runners["failed"]
    return outcome


def _source_of(item) -> tuple[Path, str]:
    if isinstance(item, (str, os.PathLike)):
        folder = Path(item).resolve()
        return folder, folder.name
    return Path(item.path), item.kim_id


def _preflight(folder: Path, kim_id: str, leader: str) -> None:
    """Refuse, before any build, what would fail late or reach for the network."""
    cmake_text = (folder / "CMakeLists.txt").read_text(encoding="utf-8", errors="replace")
    project = _PROJECT_RE.search(cmake_text)
    if project and project.group(1) != kim_id and "${" not in project.group(1):
        raise PipelineBuildError(f"CMakeLists.txt names the project {project.group(1)}, "
                                 "not the item's KIM ID", kim_id=kim_id, path=folder)
    if any(p.suffix in _FORTRAN_SUFFIXES for p in folder.rglob("*")) and not shutil.which("gfortran"):
        raise PipelineBuildError("the item has Fortran sources and gfortran is not installed "
                                 "(apt-get install gfortran)", kim_id=kim_id, path=folder)
    installed = {item.name: item for item in kimapi.installed_items()}
    elsewhere = installed.get(kim_id)
    if elsewhere is not None and elsewhere.collection != "user":
        # The tool refuses (or, with --force, deletes the other copy): neither is wanted.
        raise PipelineBuildError(f"already installed in the {elsewhere.collection} collection "
                                 f"({elsewhere.library.parent})", kim_id=kim_id, path=folder)
    if leader != "MD":
        driver = _driver_name(folder, cmake_text, kim_id)
        if driver and (driver not in installed or installed[driver].kind != "model-driver"):
            # Left to itself the tool would try to download the driver from openkim.org.
            raise PipelineBuildError(f"its model driver {driver} is not installed; install the "
                                     "driver first", kim_id=kim_id, path=folder)


def _driver_name(folder: Path, cmake_text: str, kim_id: str) -> str | None:
    kimspec = folder / config.KIMSPEC_FILE
    if kimspec.is_file():
        try:
            spec = edn.load(kimspec, kim_id=kim_id)
        except PipelineEDNError as exc:
            # A build failure like any other: recorded, and the scan goes on with the next item.
            raise PipelineBuildError(f"its {config.KIMSPEC_FILE} cannot be read: {exc}",
                                     kim_id=kim_id, path=kimspec) from exc
        driver = spec.get("model-driver") if isinstance(spec, dict) else None
        if driver:
            return driver
    match = _DRIVER_NAME_RE.search(cmake_text)
    return match.group(1) if match else None


@contextmanager
def _collection_lock():
    """One install at a time per collection (several workers may share KIM_API_DIR)."""
    root = kimapi.api_dir()
    root.mkdir(parents=True, exist_ok=True)
    with open(root / ".install.lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


@contextmanager
def _staging_area():
    """A private collection beside the real one (same file system, so the final move is a rename)."""
    root = kimapi.api_dir() / ".staging"
    root.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix="build-", dir=root))
    try:
        for folder in kimapi.COLLECTION_FOLDERS.values():
            (staging / folder).mkdir()
        (staging / "tmp").mkdir()
        (staging / "cwd").mkdir()
        (staging / "config").write_text(
            f"model-drivers-dir = {staging / 'model-drivers'}\n"
            f"portable-models-dir = {staging / 'portable-models'}\n"
            f"simulator-models-dir = {staging / 'simulator-models'}\n", encoding="utf-8")
        yield staging
    finally:
        shutil.rmtree(staging, ignore_errors=True)


#: The build's own variables, kept besides the sandbox's allowlist.
KEPT_VARIABLES = ("TMPDIR", "KIM_API_MODEL_DRIVERS_DIR")


def _build_in_staging(folder: Path, kim_id: str, kind: str, staging: Path) -> tuple[str, Path]:
    env = kimapi.subprocess_environment()
    env["KIM_API_CONFIGURATION_FILE"] = str(staging / "config")
    # The tool copies the source and builds below TMPDIR: never in the item's own folder.
    env["TMPDIR"] = str(staging / "tmp")
    env.pop("CMAKE_BUILD_TYPE", None)  # a Release build type breaks KIM item builds
    if kind != "model-driver":
        # Drivers already in the pipeline's collection are seen as the "environment" collection.
        env["KIM_API_MODEL_DRIVERS_DIR"] = str(kimapi.collection_dir("model-driver").resolve())
    command = [TOOL, "install", "user", str(folder)]
    if shutil.which(TOOL) is None:
        raise PipelineBuildError(f"{TOOL} is not installed (apt-get install libkim-api-dev)",
                                 kim_id=kim_id)
    # Sandboxed: the staging collection writable, the source and the collections read-only.
    box = sandbox.Sandbox(scratch=staging, readable=[folder, kimapi.api_dir()])
    box.prepare()
    try:
        with box.run(command, cwd=staging / "cwd", stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                     text=True, start_new_session=True,
                     env=sandbox.environment(env, staging / "tmp", keep=KEPT_VARIABLES)) as started:
            try:
                out, err = started.communicate(timeout=settings.BUILD_TIMEOUT)
            except BaseException:
                os.killpg(started.pid, signal.SIGKILL)
                started.communicate()
                raise
        process = subprocess.CompletedProcess(command, started.returncode, out, err)
    except subprocess.TimeoutExpired:
        raise PipelineBuildError(f"the build took more than {settings.BUILD_TIMEOUT} s and was stopped",
                                 kim_id=kim_id, path=folder) from None
    finally:
        box.release()
    build_log = f"$ {' '.join(command)}\n{process.stdout}{process.stderr}"
    staged = staging / kimapi.COLLECTION_FOLDERS[kind] / kim_id
    if process.returncode != 0 or not staged.is_dir():
        first_error = _first_error_line(process.stdout + process.stderr)
        error = PipelineBuildError(f"{TOOL} install failed with status {process.returncode}"
                                   + (f": {first_error}" if first_error else ""),
                                   kim_id=kim_id, path=folder)
        error.log = build_log
        raise error
    return build_log, staged


def _replace(staged: Path, target: Path) -> None:
    """Put the new build in place of the old one; the old one is removed only afterwards."""
    target.parent.mkdir(parents=True, exist_ok=True)
    old = None
    if target.exists():
        old = target.with_name(f".{target.name}.old-{os.getpid()}")
        os.rename(target, old)
    try:
        os.rename(staged, target)
    except OSError:
        if old is not None:
            os.rename(old, target)
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def _remove_older_versions(code: kimcodes.KIMCode, kind: str) -> list[str]:
    """Remove older versions of the lineage from the pipeline's collection (after the new one is in)."""
    removed = []
    for folder in kimapi.collection_dir(kind).iterdir():
        try:
            other = kimcodes.parse_kim_code(folder.name, require_version=True)
        except InvalidKIMID:
            continue
        if other.lineage == code.lineage and other.version < code.version:
            shutil.rmtree(folder)
            removed.append(folder.name)
            log.info("removed %s: replaced by version %03d", folder.name, code.version)
    return removed


def _first_error_line(build_log: str) -> str:
    for line in build_log.splitlines():
        if "error" in line.lower() and not line.startswith("$ "):
            return line.strip()[:300]
    return ""


def _record_failure(build: Build, kim_id: str, leader: str, message: str,
                    build_log: str) -> PipelineBuildError:
    now = timezone.now()
    build.status = Build.Status.FAILED
    build.log = build_log
    build.finished_at = now
    build.save()
    model = Model.objects.filter(kim_id=kim_id).first() if leader in ("MO", "SM") else None
    code = kimcodes.new_result_code("ER", exists=lambda c: Error.objects.filter(kim_id=c).exists())
    tail = build_log[-LOG_TAIL:]
    error = Error.objects.create(kim_id=str(code), model=model, built_item=kim_id,
                                 category=Error.Category.BUILD, message=message,
                                 stderr_tail=tail, created_at=now)
    _write_error_folder(error, build_log)
    log.error("build of %s failed: %s (recorded as %s)", kim_id, message, error.kim_id)
    return PipelineBuildError(f"build failed: {message}; recorded as {error.kim_id}",
                              kim_id=kim_id, log=build_log, error=error, build=build)


def _write_error_folder(error: Error, build_log: str) -> None:
    """er/<ER id>/ with the build log, like the folder of a failed run."""
    import kim_edn

    final = storage.item_path(error.kim_id)
    staging = storage.staging_folder(final)
    (staging / "build.log").write_text(build_log, encoding="utf-8")
    (staging / config.KIMSPEC_FILE).write_text(kim_edn.dumps({
        "extended-id": error.kim_id, "category": "build", "built-item": error.built_item,
        "message": error.message, "created-at": error.created_at.isoformat(),
    }, indent=2), encoding="utf-8")
    storage.publish_folder(staging, final)
