"""Read what a run left: 2020 ``output/results.edn`` or 2012 stdout JSON, as property instances.

``runner.formats`` picks the reader of an item's format; ``runner.results`` keeps the reading.
"""

import json
import logging
import math
import os
import re
import stat
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import kim_edn
import kim_property
from django.conf import settings

from kimsite import config
from repository import edn, kimcodes
from repository.errors import PipelineEDNError, PipelineResourceError, PipelineResultsError
from repository.models import Property, VerificationCheck

logger = logging.getLogger("pipeline.runner")

#: 2012: a result value naming a file the test wrote.
FILE_VALUE_RE = re.compile(r"^@FILE\[(.*)\]$")


def output_limit() -> int:
    """Bytes of stdout (and of stderr, kim.log) kept per run; the rest is read and dropped."""
    return settings.RUNNER_OUTPUT_LIMIT


class InvalidResults(PipelineResultsError):
    """Results are there but unreadable or fail validation (category invalid-results)."""


class NoResults(PipelineResultsError):
    """The run left no results at all (category no-results)."""


@dataclass
class Run:
    """What run_pair knows about one run, handed to record_result or record_error."""

    runner_item: object
    model: object
    created_at: datetime
    scratch: Path | None = None
    stdin_text: str | None = None
    upstream: list[str] = field(default_factory=list)
    executable: str = ""
    exit_code: int | None = None
    timed_out: bool = False
    timeout: float | None = None
    runtime: float | None = None
    usertime: float | None = None
    memmax: int | None = None
    output: dict = field(default_factory=dict)  # per stream: bytes seen, truncated
    build_log: str = ""
    built_item: str = ""

    @property
    def is_check(self) -> bool:
        return isinstance(self.runner_item, VerificationCheck)

    def scratch_file(self, name: str) -> Path | None:
        return self.scratch / name if self.scratch else None


@dataclass
class Reading:
    """Property instances read from a run, and the files to keep with them."""

    instances: list[dict]
    results_text: str
    files: dict[str, Path] = field(default_factory=dict)  # name in the result folder → source
    extra: dict[str, str] = field(default_factory=dict)  # more files to write: name → text
    grade: str = ""


def property_definitions(property_ids=None) -> dict:
    """kim-property's shipped definitions plus those of Property rows in the database.

    With ``property_ids``, only the rows of those properties are read (a run's results name
    a few; the table may hold every definition OpenKIM has).
    """
    definitions = dict(kim_property.get_properties())
    rows = Property.objects.exclude(definition={}).exclude(property_id="")
    if property_ids is not None:
        rows = rows.filter(property_id__in=sorted(property_ids))
    definitions.update(rows.values_list("property_id", "definition"))
    return definitions


def results_limit() -> int:
    """Bytes of results.edn (or of the 2012 JSON line) read, and of each file kept with a result."""
    return settings.RUNNER_RESULTS_LIMIT


def regular_file(path: Path) -> os.stat_result | None:
    """The lstat of a regular file (never through a link), None when there is none."""
    try:
        found = os.lstat(path)
    except OSError:
        return None
    if stat.S_ISLNK(found.st_mode):
        raise InvalidResults(f"{path.name} is a symbolic link: links in a run's folder are "
                             "never followed", path=path)
    return found if stat.S_ISREG(found.st_mode) else None


def read_bounded(path: Path, what: str) -> str:
    """A run's regular file as text, never through a link, refused above results_limit()."""
    found = regular_file(path)
    if found is None:
        raise NoResults(f"the run wrote no {what}", path=path)
    if found.st_size > results_limit():
        raise PipelineResourceError(f"{what} is {found.st_size} bytes, above "
                                    f"RUNNER_RESULTS_LIMIT ({results_limit()} bytes)", path=path)
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    with os.fdopen(fd, "rb") as handle:
        return handle.read(results_limit() + 1).decode("utf-8", errors="replace")


def first_non_finite(value) -> str | None:
    """Where a NaN or an infinity hides in parsed results (walked without recursion), or None."""
    todo = [("", value)]
    while todo:
        where, item = todo.pop()
        if isinstance(item, float) and not math.isfinite(item):
            return where or "the top level"
        if isinstance(item, dict):
            todo += [(f"{where}/{key}", entry) for key, entry in item.items()]
        elif isinstance(item, list | tuple):
            todo += [(f"{where}[{number}]", entry) for number, entry in enumerate(item)]
    return None


def _output_folder(run: Run) -> Path:
    output = run.scratch / "output"
    if os.path.islink(output) or not output.is_dir():
        raise InvalidResults("output/ is not a folder of the run's own (a link is never followed)",
                             path=output)
    return output


def read_2020(run: Run) -> Reading:
    output = _output_folder(run)
    path = output / config.RESULTS_FILE
    text = read_bounded(path, "output/results.edn")
    if not text.strip():
        raise NoResults("output/results.edn is empty", path=path)
    try:
        instances = edn.loads(text, path=path)
    except PipelineEDNError as exc:
        raise InvalidResults(f"output/results.edn does not parse as EDN: {exc}", path=path) from exc
    if (where := first_non_finite(instances)) is not None:
        raise InvalidResults(f"output/results.edn holds a NaN or an infinity at {where}", path=path)
    if isinstance(instances, dict):
        instances = [instances]
    if not isinstance(instances, list) or not all(isinstance(i, dict) for i in instances):
        raise InvalidResults("output/results.edn is not a list of property instances", path=path)
    if not instances:
        raise NoResults("output/results.edn holds no property instances", path=path)
    # Read before the try: a database gone (a restart) is the machinery's failure, raised as
    # it is, never the results' (an invalid-results Error of a valid run).
    definitions = property_definitions({str(i.get("property-id")) for i in instances})
    try:
        kim_property.check_property_instances(instances, fp_path=definitions)
    except Exception as exc:  # kim_property raises KIMPropertyError and plain exceptions
        raise InvalidResults(f"the property instances fail validation: {exc}", path=path) from exc
    reading = Reading(instances, text)
    for extra in kept_files(output):
        if extra != path:
            reading.files[str(Path("output") / extra.relative_to(output))] = extra
    if run.is_check:
        reading.grade = _grade(instances)
    return reading


def kept_files(folder: Path) -> list[Path]:
    """The regular files below ``folder`` (links neither kept nor followed), each within the limit."""
    found = []
    for root, _dirs, files in os.walk(folder):  # os.walk never descends into a linked folder
        for name in files:
            path = Path(root) / name
            size = os.lstat(path)
            if not stat.S_ISREG(size.st_mode):
                continue
            if size.st_size > results_limit():
                raise PipelineResourceError(
                    f"{path.relative_to(folder.parent)} is {size.st_size} bytes, above "
                    f"RUNNER_RESULTS_LIMIT ({results_limit()} bytes)", path=path)
            found.append(path)
    return sorted(found)


def _grade(instances: list[dict]) -> str:
    for instance in instances:
        entry = instance.get("vc-grade")
        if isinstance(entry, dict) and entry.get("source-value") is not None:
            return str(entry["source-value"])[:4]
    return ""


def read_pipeline_out(path: Path) -> dict[str, str]:
    """2012 ``pipeline.out``: lines ``key : PR_…`` → {key: PR code}."""
    mapping = {}
    if not path.is_file():
        return mapping
    for number, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        key, sep, code = line.partition(":")
        if not sep or not kimcodes.is_kim_code(code.strip()):
            raise InvalidResults(f"pipeline.out line is not 'key : PR_…': {line!r}", path=path,
                                 line=number)
        mapping[key.strip()] = code.strip()
    return mapping


def _refuse_constant(name: str):
    raise InvalidResults(f"the last line of stdout holds {name}: results must be finite numbers")


def _last_json_line(text: str):
    for line in reversed(text.splitlines()):
        if line.strip():
            if len(line) > results_limit():
                raise PipelineResourceError(f"the last line of stdout is {len(line)} characters, "
                                            f"above RUNNER_RESULTS_LIMIT ({results_limit()})")
            try:
                data = json.loads(line, parse_constant=_refuse_constant)
            except RecursionError as exc:
                raise InvalidResults("the last line of stdout is JSON nested too deeply") from exc
            except ValueError as exc:
                raise InvalidResults(f"the last line of stdout is not JSON: {line[:200]!r}") from exc
            if (where := first_non_finite(data)) is not None:  # 1e999 parses as inf
                raise InvalidResults(f"the last line of stdout holds an infinity at {where}")
            return data
    raise NoResults("the run printed nothing on stdout")


def _scratch_file(run: Run, name: str) -> Path:
    """A file a 2012 result names with @FILE[...]: only inside the scratch folder."""
    scratch = run.scratch.resolve()
    target = (scratch / name).resolve()
    if not target.is_relative_to(scratch):
        raise InvalidResults(f"@FILE[{name}] points outside the run's folder")
    if not target.is_file():
        raise InvalidResults(f"@FILE[{name}] names no file the run wrote")
    if target.stat().st_size > results_limit():
        raise PipelineResourceError(f"@FILE[{name}] is above RUNNER_RESULTS_LIMIT "
                                    f"({results_limit()} bytes)")
    return target


def read_2012(run: Run) -> Reading:
    stdout = run.scratch_file(config.STDOUT_FILE)
    if run.output.get("stdout", {}).get("truncated"):
        raise InvalidResults(f"stdout was cut at {run.output['stdout']['kept']} bytes: the JSON "
                             "line at its end is lost")
    data = _last_json_line(stdout.read_text(encoding="utf-8", errors="replace"))
    if not isinstance(data, dict):
        raise InvalidResults("the last line of stdout is JSON but not an object")
    mapping = read_pipeline_out(Path(run.runner_item.path) / config.OUTPUT_FILE)
    renamed, instances, files = {}, [], {}
    for key, value in data.items():
        if isinstance(value, str) and (found := FILE_VALUE_RE.match(value)):
            files[str(Path("files") / found[1].lstrip("/"))] = _scratch_file(run, found[1])
        code = mapping.get(key, key)  # unmapped keys are kept as they are (a961754)
        renamed[code] = value
        if key in mapping:
            instances.append({"property-id": code, "instance-id": len(instances) + 1,
                              key: {"source-value": value}})
    if not instances and not run.is_check:
        raise InvalidResults(f"none of the keys of pipeline.out ({', '.join(mapping) or 'none'}) "
                             f"is in the output ({', '.join(data) or 'empty'})")
    reading = Reading(instances, kim_edn.dumps(instances), files,
                      extra={"results.json": json.dumps(renamed, indent=2) + "\n"})
    if run.is_check:
        passed = data.get("pass")
        reading.grade = "P" if passed is True else ("F" if passed is False else _grade(instances))
    return reading


__all__ = ["Run", "Reading", "NoResults", "InvalidResults", "read_2020", "read_2012",
           "read_pipeline_out", "output_limit", "property_definitions"]
