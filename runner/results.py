"""Read what a run left (2020 ``output/results.edn`` or 2012 stdout JSON) and keep it.

A valid run becomes a TestResult (or VerificationResult) with PropertyValue rows, anything
else an Error with a category; either is written to ``tr/``, ``vr/`` or ``er/`` atomically,
together with its database row.
"""

import json
import logging
import re
import shutil
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import kim_edn
import kim_property
from django.db import transaction

from kimsite import config
from kimsite.env import env_int
from repository import kimcodes, storage
from repository.errors import PipelineResultsError
from repository.models import (
    Error,
    Property,
    PropertyValue,
    TestResult,
    VerificationCheck,
    VerificationResult,
)
from runner import provenance

logger = logging.getLogger("pipeline.runner")

#: Bytes of stdout (and of stderr, kim.log) kept per run; the rest is read and dropped.
OUTPUT_LIMIT = env_int("RUNNER_OUTPUT_LIMIT", 32 * 1024 * 1024)
#: Lines of stdout, stderr and kim.log kept in an Error row.
TAIL_LINES = 40
TAIL_CHARS = 8000
#: 2012: a result value naming a file the test wrote.
FILE_VALUE_RE = re.compile(r"^@FILE\[(.*)\]$")


def output_limit() -> int:
    return OUTPUT_LIMIT


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


# ---------------------------------------------------------------------------------------------
# Reading


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
        instances = kim_edn.loads(text)
    except Exception as exc:  # kim_edn raises its own decode errors
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


def read_results(run: Run) -> Reading:
    if run.runner_item.source_format == "2012":
        return read_2012(run)
    return read_2020(run)


# ---------------------------------------------------------------------------------------------
# Writing


def tail(path: Path | None, lines: int = TAIL_LINES) -> str:
    """The last lines of a file, read from its end (a capped stdout can still be megabytes)."""
    if path is None or not path.is_file():
        return ""
    with open(path, "rb") as handle:
        end = handle.seek(0, 2)
        handle.seek(max(0, end - 64 * 1024))
        data = handle.read().decode(errors="replace")
    # NUL bytes are legal output but not legal PostgreSQL text.
    return "\n".join(data.replace("\x00", "\\0").splitlines()[-lines:])[-TAIL_CHARS:]


def _exists(code: str) -> bool:
    short = kimcodes.parse_kim_code(code).short
    return (TestResult.objects.filter(kim_id__contains=short).exists()
            or VerificationResult.objects.filter(kim_id__contains=short).exists()
            or Error.objects.filter(kim_id__contains=short).exists()
            or storage.item_path(code).exists())


def pipelinespec(run: Run, environment: dict) -> dict:
    return {
        "profiling": {
            "runtime": run.runtime, "usertime": run.usertime, "memmax": run.memmax,
            "created-at": run.created_at.isoformat(),
        },
        "environment": environment,
        "upstream-results": list(run.upstream),
        "executable": run.executable,
        "exit-code": run.exit_code,
        "timed-out": run.timed_out,
        "timeout": run.timeout,
        "output": run.output,
    }


def _without_none(value):
    """EDN has no null in kim-edn's encoder: leave unknown fields out."""
    if isinstance(value, dict):
        return {k: _without_none(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_without_none(v) for v in value]
    return value


def _kimspec(run: Run, kim_id: str) -> dict:
    spec = {"extended-id": kim_id, "model": run.model.kim_id if run.model else None}
    spec["verification-check" if run.is_check else "test"] = run.runner_item.kim_id
    return spec


def _copy_capped(source: Path | None, target: Path, limit: int) -> None:
    if source is None or not source.is_file():
        return
    with open(source, "rb") as reader, open(target, "wb") as writer:
        writer.write(reader.read(limit))


def _write_common(staging: Path, run: Run, kim_id: str, environment: dict) -> None:
    storage.atomic_write_text(staging / config.KIMSPEC_FILE, kim_edn.dumps(_without_none(_kimspec(run, kim_id))))
    storage.atomic_write_text(staging / config.PIPELINESPEC_FILE,
                              kim_edn.dumps(_without_none(pipelinespec(run, environment))))
    if run.stdin_text is not None:
        storage.atomic_write_text(staging / config.STDIN_FILE, run.stdin_text)
    for name in (config.STDOUT_FILE, config.STDERR_FILE, config.KIM_LOG_FILE):
        _copy_capped(run.scratch_file(name), staging / name, output_limit())


def _publish(leader: str, write_files, create_row):
    """Write a result folder and its row so that both exist or neither does."""
    code = str(kimcodes.new_result_code(leader, exists=_exists))
    final = storage.item_path(code)
    staging = storage.staging_folder(final)
    published = False
    try:
        write_files(staging, code)
        with transaction.atomic():
            row = create_row(code)
            # Last step in the transaction: a failed rename rolls the row back.
            storage.publish_folder(staging, final)
            published = True
    except BaseException:
        storage.remove_folder(final if published else staging)
        raise
    return row


def _outcome_fields(run: Run, environment_row) -> dict:
    return {"model": run.model, "created_at": run.created_at, "environment": environment_row,
            "runtime": run.runtime, "usertime": run.usertime, "memmax": run.memmax}


def record_result(run: Run, reading: Reading):
    """Keep a valid run as a TestResult or VerificationResult with its PropertyValue rows."""
    environment_row = provenance.worker_environment()
    environment = provenance.environment_fields()

    def write_files(staging: Path, code: str) -> None:
        storage.atomic_write_text(staging / config.RESULTS_FILE, reading.results_text)
        for name, text in reading.extra.items():
            storage.atomic_write_text(staging / name, text)
        for name, source in reading.files.items():
            (staging / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, staging / name)
        _write_common(staging, run, code, environment)

    def create_row(code: str):
        provenance_fields = pipelinespec(run, environment)
        fields = {**_outcome_fields(run, environment_row), "kim_id": code,
                  "provenance": provenance_fields, "instances": reading.instances}
        if run.is_check:
            return VerificationResult.objects.create(verification_check=run.runner_item,
                                                     grade=reading.grade, **fields)
        result = TestResult.objects.create(test=run.runner_item, **fields)
        PropertyValue.objects.bulk_create(_property_values(result, reading.instances))
        return result

    return _publish("VR" if run.is_check else "TR", write_files, create_row)


def _short_name(property_id: str) -> str:
    """``tag:…:property/<short-name>`` → short name; a 2012 PR code → its Property row's short name."""
    if not kimcodes.is_kim_code(property_id):
        return property_id.rsplit("property/", 1)[-1]
    code = kimcodes.parse_kim_code(property_id)
    row = Property.objects.filter(number=code.number).exclude(short_name="").order_by("-version").first()
    return row.short_name if row else property_id


def _property_values(result, instances: list[dict]) -> list:
    rows, names = [], {}
    for number, instance in enumerate(instances, 1):
        property_id = str(instance.get("property-id", ""))
        if property_id not in names:
            names[property_id] = _short_name(property_id)
        short = names[property_id]
        for key, entry in instance.items():
            if key in ("property-id", "instance-id", "meta") or not isinstance(entry, dict):
                continue
            rows.append(PropertyValue(
                result=result, instance=int(instance.get("instance-id", number)),
                property_id=property_id[:255],
                property_name=short[:120],
                key=key[:120], value=entry.get("source-value"),
                unit=str(entry.get("source-unit") or "")[:64],
            ))
    return rows


def record_error(run: Run, category: str, message: str):
    """Keep a failed run as an Error under ``er/`` with the tails of what it printed."""
    environment_row = provenance.worker_environment()
    environment = provenance.environment_fields()
    message = str(message).replace("\x00", "\\0")
    logger.warning("%s × %s: %s: %s", run.runner_item.kim_id,
                   run.model.kim_id if run.model else "-", category, message)

    def write_files(staging: Path, code: str) -> None:
        _write_common(staging, run, code, environment)
        storage.atomic_write_text(staging / "pipeline.exception", f"{category}: {message}\n")
        if run.build_log:
            storage.atomic_write_text(staging / "build.log", run.build_log)
        results = run.scratch_file(str(Path("output") / config.RESULTS_FILE))
        if results is not None and results.is_file():
            _copy_capped(results, staging / config.RESULTS_FILE, output_limit())

    def create_row(code: str):
        spec = pipelinespec(run, environment)
        runner_field = "verification_check" if run.is_check else "test"
        stderr_tail = tail(run.scratch_file(config.STDERR_FILE))
        if run.build_log:
            stderr_tail = "\n".join(run.build_log.splitlines()[-TAIL_LINES:])[-TAIL_CHARS:]
        return Error.objects.create(
            kim_id=code, category=category, message=message, provenance=spec,
            built_item=run.built_item,
            stdout_tail=tail(run.scratch_file(config.STDOUT_FILE)), stderr_tail=stderr_tail,
            kimlog_tail=tail(run.scratch_file(config.KIM_LOG_FILE)),
            **{runner_field: run.runner_item}, **_outcome_fields(run, environment_row),
        )

    return _publish("ER", write_files, create_row)


# ---------------------------------------------------------------------------------------------
# Reading a kept outcome back (runpair, showresult)


def outcome_summary(outcome) -> dict:
    """A kept result or error as plain data: what ran, how it went, its values and provenance."""
    kind = {"TR": "test result", "VR": "verification result", "ER": "error"}[outcome.kim_id[:2]]
    runner_item = outcome.runner
    environment = outcome.environment
    summary = {
        "kim_id": outcome.kim_id,
        "kind": kind,
        "status": "error" if isinstance(outcome, Error) else "ok",
        "runner": runner_item.kim_id if runner_item else None,
        "model": outcome.model.kim_id if outcome.model else None,
        "created_at": outcome.created_at.isoformat(),
        "runtime": outcome.runtime,
        "usertime": outcome.usertime,
        "memmax": outcome.memmax,
        "stale": outcome.stale,
        "path": str(outcome.path),
        "environment": {
            "host": environment.host, "os": environment.os,
            "python": environment.python_version, "kim_api": environment.kim_api_version,
            "kimpy": environment.kimpy_version, "pipeline": environment.pipeline_version,
        } if environment else None,
        "upstream": outcome.provenance.get("upstream-results", []),
        "provenance": outcome.provenance,
    }
    if isinstance(outcome, Error):
        summary.update(category=outcome.category, message=outcome.message,
                       stdout_tail=outcome.stdout_tail, stderr_tail=outcome.stderr_tail,
                       kimlog_tail=outcome.kimlog_tail)
    elif isinstance(outcome, VerificationResult):
        summary["grade"] = outcome.grade
    if isinstance(outcome, TestResult):
        summary["values"] = [
            {"property": v.property_name, "key": v.key, "instance": v.instance, "value": v.value,
             "unit": v.unit or None}
            for v in outcome.values.order_by("instance", "property_name", "key")
        ]
    return summary
