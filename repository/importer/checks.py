"""Checks of single values an item folder gives: files, text, lists, status, timeout, KIM IDs.

Each raises PipelineImportError saying what is wrong and where (file, item, line).
"""

import json
import math
import os
import re
from pathlib import Path

from django.conf import settings

from kimsite import config
from repository import dependencies, edn, kimcodes
from repository.errors import InvalidKIMID, PipelineError, PipelineImportError
from repository.models import Status


def reject(message: str, folder: Path, kim_id: str | None = None, *, line=None) -> PipelineImportError:
    return PipelineImportError(message, path=folder, kim_id=kim_id, line=line)


#: Levels of nesting a metadata file may have (kimspec.edn, metadata.json, data.edn).
MAX_NESTING = 100
#: A kim-api-version: "2", "2.2", "2.3.0".
KIM_API_VERSION_RE = re.compile(r"\d+(\.\d+){0,2}")


def _bounded_size(path: Path, kim_id: str | None) -> None:
    limit = settings.PIPELINE_METADATA_LIMIT
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise reject(f"{path.name} cannot be read: {exc.strerror or exc}", path, kim_id) from exc
    if size > limit:
        raise reject(f"{path.name} is {size} bytes, above PIPELINE_METADATA_LIMIT ({limit} bytes)",
                     path, kim_id)


def storable(value, path: Path, kim_id: str | None):
    """``value`` when every database can keep it: finite numbers, no NUL, bounded nesting."""
    todo = [(value, 0)]
    while todo:
        item, depth = todo.pop()
        if depth > MAX_NESTING:
            raise reject(f"{path.name} is nested deeper than {MAX_NESTING} levels", path, kim_id)
        if isinstance(item, float) and not math.isfinite(item):
            raise reject(f"{path.name} holds {item}: numbers must be finite", path, kim_id)
        if isinstance(item, str) and "\x00" in item:
            raise reject(f"{path.name} holds a NUL character, which no database keeps as text",
                         path, kim_id)
        if isinstance(item, dict):
            todo += [(part, depth + 1) for pair in item.items() for part in pair]
        elif isinstance(item, list | tuple):
            todo += [(part, depth + 1) for part in item]
    return value


def load_edn(path: Path, kim_id: str | None):
    _bounded_size(path, kim_id)
    try:
        return storable(edn.load(path, kim_id=kim_id), path, kim_id)
    except PipelineError as exc:
        if isinstance(exc, PipelineImportError):
            raise
        raise reject(exc.reason, path, kim_id, line=exc.line) from exc


def load_json(path: Path, kim_id: str | None):
    _bounded_size(path, kim_id)
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except RecursionError as exc:
        raise reject(f"{path.name} is nested too deeply to read", path, kim_id) from exc
    except (ValueError, UnicodeDecodeError, OSError) as exc:
        raise reject(f"{path.name} is not valid JSON: {exc}", path, kim_id) from exc
    return storable(value, path, kim_id)


def kim_api_version(spec: dict, key: str, where: Path, kim_id: str) -> str:
    value = text(spec, key, where, kim_id)
    if value and not KIM_API_VERSION_RE.fullmatch(value):
        raise reject(f"{key} {value!r} is not a KIM API version such as \"2.2\"", where, kim_id)
    return value


def species(spec: dict, key: str, where: Path, kim_id: str, *, required: bool) -> list[str]:
    """The species list; an explicit empty list of a test or model would match every model."""
    value = string_list(spec, key, where, kim_id)
    if required and key in spec and not value:
        raise reject(f"{key!r} is empty: name the species (an empty list would match every "
                     "model)", where, kim_id)
    return value


def upstream_tests(folder: Path, source_format: str, kim_id: str) -> list[str]:
    """The tests the folder's test declares or reads (repository.dependencies), as written."""
    try:
        found = dependencies.declared_upstream(folder, source_format)
    except PipelineError as exc:
        raise reject(exc.reason, exc.path or folder, kim_id, line=exc.line) from exc
    return list(dict.fromkeys(upstream.test for upstream in found))


def require(folder: Path, name: str, kim_id: str, *, executable: bool = False) -> Path:
    path = folder / name
    if path.is_dir():
        raise reject(f"{name} is a folder, not a file", path, kim_id)
    if not path.is_file():
        raise reject(f"required file {name} is missing", path, kim_id)
    if executable and not os.access(path, os.X_OK):
        raise reject(f"{name} is not executable", path, kim_id)
    return path


def require_runner(folder: Path, kim_id: str) -> None:
    """A 2020 runner is an executable ``runner``, or sources the pipeline builds before the first run."""
    if any((folder / name).is_file() for name in config.SOURCE_BUILD_FILES):
        return
    require(folder, config.RUNNER_FILE, kim_id, executable=True)


def text(spec: dict, key: str, where: Path, kim_id: str) -> str:
    value = spec.get(key, "")
    if value is None:
        return ""
    if not isinstance(value, str):
        raise reject(f"{key!r} must be text, not {type(value).__name__}", where, kim_id)
    return value


def string_list(spec: dict, key: str, where: Path, kim_id: str) -> list[str]:
    value = spec.get(key) or []
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise reject(f"{key!r} must be a list of strings, not {value!r}", where, kim_id)
    return list(value)


def status(spec: dict, where: Path, kim_id: str) -> str | None:
    value = spec.get("status")
    if value is None:
        return None
    if value not in Status.values:
        raise reject(f"status {value!r} is not one of {', '.join(Status.values)}", where, kim_id)
    return value


def allowed_timeout() -> tuple[int, int, int]:
    """(longest test timeout, JOB_TIMEOUT, margin): a job's task timeout is its timeout + margin."""
    margin = settings.PIPELINE_JOB_TIMEOUT_MARGIN
    return settings.JOB_TIMEOUT - margin, settings.JOB_TIMEOUT, margin


def timeout(spec: dict, where: Path, kim_id: str) -> int | None:
    value = spec.get("timeout")
    if value is None:
        return None
    if (isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value)
            or value <= 0):
        raise reject(f"timeout must be a positive number of seconds, not {value!r}", where, kim_id)
    longest, job_timeout, margin = allowed_timeout()
    if value > longest:
        # The cluster would kill the job before the test's own limit: refuse it now, not mid-run.
        raise reject(f"timeout {value} s is more than the cluster allows: JOB_TIMEOUT is "
                     f"{job_timeout} s, less a margin of {margin} s leaves {longest} s", where, kim_id)
    return int(value)


def item_id(value, where: Path, kim_id: str, leader: str, what: str) -> str:
    """A KIM ID the item names (driver, dependency), checked for form and leader."""
    try:
        return str(kimcodes.parse_kim_code(value, leader=leader))
    except InvalidKIMID as exc:
        raise reject(f"{what} {value!r} is not a {leader} KIM ID: {exc.reason}", where, kim_id) from exc
