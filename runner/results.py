"""Keep what a run left: a TestResult / VerificationResult with PropertyValue rows, or an Error.

Either is written to ``tr/``, ``vr/`` or ``er/`` atomically, together with its database row.
What is kept comes from ``runner.reading`` (a Reading of a Run).
"""

import logging
import os
import shutil
import stat
from pathlib import Path

import kim_edn
from django.db import transaction

from kimsite import config
from repository import kimcodes, storage
from repository.models import (
    MODEL_FOR_LEADER,
    Error,
    PropertyValue,
    TestResult,
    VerificationResult,
)
from runner import provenance
from runner.reading import Reading, Run, output_limit

logger = logging.getLogger("pipeline.runner")

#: Lines of stdout, stderr and kim.log kept in an Error row.
TAIL_LINES = 40
TAIL_CHARS = 8000


def tail(path: Path | None, lines: int = TAIL_LINES) -> str:
    """The last lines of a file, read from its end (a capped stdout can still be megabytes)."""
    if path is None or not path.is_file() or path.is_symlink():  # a run's link: never followed
        return ""
    with open(path, "rb") as handle:
        end = handle.seek(0, 2)
        handle.seek(max(0, end - 64 * 1024))
        data = handle.read().decode(errors="replace")
    # NUL bytes are legal output but not legal PostgreSQL text.
    return "\n".join(data.replace("\x00", "\\0").splitlines()[-lines:])[-TAIL_CHARS:]


def _exists(code: str) -> bool:
    """Whether a new result ID is taken: an exact lookup in the one table whose IDs start with
    its leader (result IDs carry no name), and the disk."""
    code = str(code)
    return (MODEL_FOR_LEADER[code[:2]].objects.filter(kim_id=code).exists()
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
    # A run's file is never followed through a link (ln -s /etc/passwd output/results.edn).
    if source is None or not source.is_file() or source.is_symlink():
        return
    try:
        fd = os.open(source, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        return
    with os.fdopen(fd, "rb") as reader, open(target, "wb") as writer:
        if stat.S_ISREG(os.fstat(reader.fileno()).st_mode):
            writer.write(reader.read(limit))


def _write_common(staging: Path, run: Run, kim_id: str, environment: dict) -> None:
    storage.write_staged_text(staging / config.KIMSPEC_FILE, kim_edn.dumps(_without_none(_kimspec(run, kim_id))))
    storage.write_staged_text(staging / config.PIPELINESPEC_FILE,
                              kim_edn.dumps(_without_none(pipelinespec(run, environment))))
    if run.stdin_text is not None:
        storage.write_staged_text(staging / config.STDIN_FILE, run.stdin_text)
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
        storage.write_staged_text(staging / config.RESULTS_FILE, reading.results_text)
        for name, text in reading.extra.items():
            storage.write_staged_text(staging / name, text)
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
        PropertyValue.objects.bulk_create(PropertyValue.rows_for(result, reading.instances))
        return result

    return _publish("VR" if run.is_check else "TR", write_files, create_row)


def record_error(run: Run, category: str, message: str):
    """Keep a failed run as an Error under ``er/`` with the tails of what it printed."""
    environment_row = provenance.worker_environment()
    environment = provenance.environment_fields()
    message = str(message).replace("\x00", "\\0")
    logger.warning("%s × %s: %s: %s", run.runner_item.kim_id,
                   run.model.kim_id if run.model else "-", category, message)

    def write_files(staging: Path, code: str) -> None:
        _write_common(staging, run, code, environment)
        storage.write_staged_text(staging / "pipeline.exception", f"{category}: {message}\n")
        if run.build_log:
            storage.write_staged_text(staging / "build.log", run.build_log)
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
