"""Read what a run left: 2020 ``output/results.edn`` or 2012 stdout JSON, as property instances.

``runner.formats`` picks the reader of an item's format; ``runner.results`` keeps the reading.
"""

import json
import logging
import re
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import kim_edn
import kim_property
from django.conf import settings

from kimsite import config
from repository import edn, kimcodes
from repository.errors import PipelineEDNError, PipelineResultsError
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


def property_definitions() -> dict:
    """kim-property's shipped definitions plus those of Property rows in the database."""
    definitions = dict(kim_property.get_properties())
    for row in Property.objects.exclude(definition={}).exclude(property_id=""):
        definitions[row.property_id] = row.definition
    return definitions


def read_2020(run: Run) -> Reading:
    path = run.scratch / "output" / config.RESULTS_FILE
    if not path.is_file():
        raise NoResults("the run wrote no output/results.edn", path=path)
    text = path.read_text(encoding="utf-8", errors="replace")
    if not text.strip():
        raise NoResults("output/results.edn is empty", path=path)
    try:
        instances = edn.loads(text, path=path)
    except PipelineEDNError as exc:
        raise InvalidResults(f"output/results.edn does not parse as EDN: {exc}", path=path) from exc
    if isinstance(instances, dict):
        instances = [instances]
    if not isinstance(instances, list) or not all(isinstance(i, dict) for i in instances):
        raise InvalidResults("output/results.edn is not a list of property instances", path=path)
    if not instances:
        raise NoResults("output/results.edn holds no property instances", path=path)
    try:
        kim_property.check_property_instances(instances, fp_path=property_definitions())
    except Exception as exc:  # kim_property raises KIMPropertyError and plain exceptions
        raise InvalidResults(f"the property instances fail validation: {exc}", path=path) from exc
    reading = Reading(instances, text)
    for extra in sorted((run.scratch / "output").rglob("*")):
        # Other files the test wrote to output/ go with the result; links are not followed out.
        if extra.is_file() and not extra.is_symlink() and extra != path:
            reading.files[str(Path("output") / extra.relative_to(run.scratch / "output"))] = extra
    if run.is_check:
        reading.grade = _grade(instances)
    return reading


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


def _last_json_line(text: str):
    for line in reversed(text.splitlines()):
        if line.strip():
            try:
                return json.loads(line)
            except ValueError as exc:
                raise InvalidResults(f"the last line of stdout is not JSON: {line[:200]!r}") from exc
    raise NoResults("the run printed nothing on stdout")


def _scratch_file(run: Run, name: str) -> Path:
    """A file a 2012 result names with @FILE[...]: only inside the scratch folder."""
    scratch = run.scratch.resolve()
    target = (scratch / name).resolve()
    if not target.is_relative_to(scratch):
        raise InvalidResults(f"@FILE[{name}] points outside the run's folder")
    if not target.is_file():
        raise InvalidResults(f"@FILE[{name}] names no file the run wrote")
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
