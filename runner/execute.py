"""Run one (runner, model) pair end to end: the one path of the command line, the queue and the admin.

Match, build, render, run the executable in a fresh scratch folder under a wall-clock limit,
then keep a TestResult / VerificationResult or a categorised Error (``runner.results``).
"""

import logging
import os
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from django.utils import timezone

from kimsite import config
from repository import kimapi
from repository.errors import (
    PipelineBuildError,
    PipelineDataMissing,
    PipelineResultsError,
    PipelineTemplateError,
)
from repository.matching import match
from repository.models import Error, Model
from runner import build, formats, provenance, reading, results, template

logger = logging.getLogger("pipeline.runner")

def scratch_root() -> Path:
    """Where runs happen: never inside the KIM API build area (the cwd is a KIM API collection)."""
    return Path(config.KIM_DIR) / "scratch"


# ---------------------------------------------------------------------------------------------
# Running a process


@dataclass
class ProcessRecord:
    exit_code: int | None
    timed_out: bool
    runtime: float
    usertime: float | None
    memmax: int | None  # KiB
    output: dict


def _descendants(pid: int) -> list[int]:
    """Every live descendant of ``pid`` (read from /proc), including those in other sessions."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as handle:
                stat = handle.read().decode(errors="replace")
        except OSError:
            continue
        # The command name may hold spaces and parentheses: fields start after the last ')'.
        fields = stat[stat.rfind(")") + 2:].split()
        children.setdefault(int(fields[1]), []).append(int(entry))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def kill_tree(pid: int) -> None:
    """SIGKILL the process group of ``pid`` and every descendant that left it."""
    stray = _descendants(pid)
    for target in [pid, *stray]:
        try:
            os.killpg(target, signal.SIGKILL) if target == pid else os.kill(target, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass


def _drain(stream, path: Path, limit: int, record: dict) -> None:
    """Copy a pipe to a file up to ``limit`` bytes; read and drop the rest so the child never blocks."""
    seen = kept = 0
    fd = stream.fileno()
    with open(path, "wb") as out:
        while True:
            try:
                chunk = os.read(fd, 1 << 16)
            except OSError:
                break
            if not chunk:
                break
            seen += len(chunk)
            if kept < limit:
                part = chunk[: limit - kept]
                out.write(part)
                kept += len(part)
    record.update(bytes=seen, kept=kept, truncated=seen > kept)


def run_process(command: list[str], *, cwd: Path, stdin_path: Path, stdout_path: Path,
                stderr_path: Path, env: dict, timeout: float, limit: int) -> ProcessRecord:
    """Run ``command`` in its own session with a wall-clock limit; account time and memory."""
    output = {"stdout": {}, "stderr": {}}
    timed_out = threading.Event()
    started = time.monotonic()
    with open(stdin_path, "rb") as stdin:
        process = subprocess.Popen(command, stdin=stdin, stdout=subprocess.PIPE,
                                   stderr=subprocess.PIPE, cwd=cwd, env=env,
                                   start_new_session=True, close_fds=True)
    readers = [
        threading.Thread(target=_drain, args=(process.stdout, stdout_path, limit, output["stdout"]),
                         daemon=True),
        threading.Thread(target=_drain, args=(process.stderr, stderr_path, limit, output["stderr"]),
                         daemon=True),
    ]

    def expire():
        timed_out.set()
        kill_tree(process.pid)

    timer = threading.Timer(timeout, expire)
    timer.daemon = True
    try:
        for reader in readers:
            reader.start()
        timer.start()
        # WNOWAIT leaves the runner a zombie: its pid (and so its group id) cannot be reused
        # while we kill what it left behind.
        os.waitid(os.P_PID, process.pid, os.WEXITED | os.WNOWAIT)
        runtime = time.monotonic() - started
    finally:
        timer.cancel()
        if timer.is_alive():
            timer.join()
        kill_tree(process.pid)
        # wait4 rather than Popen.wait: it reaps and returns the rusage (user time, max RSS).
        _, status, usage = os.wait4(process.pid, 0)
        process.returncode = os.waitstatus_to_exitcode(status)
        for reader in readers:
            reader.join(timeout=10)
        for stream in (process.stdout, process.stderr):
            stream.close()
    return ProcessRecord(
        exit_code=process.returncode, timed_out=timed_out.is_set(), runtime=runtime,
        usertime=usage.ru_utime, memmax=usage.ru_maxrss, output=output,
    )


def subprocess_environment() -> dict:
    """The environment of a runner: the KIM API's, with the project's .venv/bin first on PATH."""
    env = kimapi.subprocess_environment()
    env["PATH"] = os.pathsep.join([provenance.interpreter_bin(), env.get("PATH", "/usr/bin:/bin")])
    # glibc writes fatal errors (e.g. double free) to stderr instead of the tty (as in 2013).
    env["LIBC_FATAL_STDERR_"] = "1"
    env.pop("DJANGO_SETTINGS_MODULE", None)
    return env


# ---------------------------------------------------------------------------------------------
# One pair


def timeout_of(runner_item) -> int:
    return runner_item.timeout or config.RUNNER_TIMEOUT


def _make_scratch(runner_item, model) -> Path:
    root = scratch_root()
    root.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=f"{runner_item.kim_id}__{model.kim_id}.", dir=root))
    shutil.copytree(runner_item.path, scratch, symlinks=True, dirs_exist_ok=True)
    output = scratch / "output"
    shutil.rmtree(output, ignore_errors=True)
    output.mkdir()
    return scratch


def executable_of(runner_item, scratch: Path, built: Path | None) -> Path:
    if built is not None:
        return built
    return scratch / formats.of(runner_item).executable_name(runner_item)


def run_pair(runner_item, model: Model, *, rebuild: bool = False):
    """Run ``runner_item`` (a Test or VerificationCheck) on ``model``; return what was kept.

    Returns a TestResult, a VerificationResult, or an Error whose ``category`` says what went
    wrong. Only a failure to write the outcome itself raises.
    """
    run = reading.Run(runner_item=runner_item, model=model, created_at=timezone.now(),
                      timeout=timeout_of(runner_item))
    try:
        return _run(run, rebuild=rebuild)
    except PipelineDataMissing as exc:
        return results.record_error(run, Error.Category.DEPENDENCY, str(exc))
    except PipelineTemplateError as exc:
        return results.record_error(run, Error.Category.TEMPLATE, str(exc))
    except PipelineBuildError as exc:
        run.build_log, run.built_item = exc.log, exc.kim_id or ""
        return results.record_error(run, Error.Category.BUILD, str(exc))
    except Exception as exc:
        logger.exception("%s × %s: the pipeline failed", runner_item.kim_id, model.kim_id)
        return results.record_error(run, Error.Category.INTERNAL, f"{type(exc).__name__}: {exc}")
    finally:
        if run.scratch is not None:
            shutil.rmtree(run.scratch, ignore_errors=True)


def _run(run: reading.Run, *, rebuild: bool):
    runner_item, model = run.runner_item, run.model
    verdict = match(runner_item, model)
    if not verdict.ok:
        return results.record_error(run, Error.Category.MISMATCH,
                                    f"{runner_item.kim_id} does not match {model.kim_id} "
                                    f"(rule {verdict.rule}): {verdict.reason}")
    built = build.ensure_built(runner_item, rebuild=rebuild)
    driver = getattr(runner_item, "driver", None)
    if driver is not None and build.needs_build(driver):
        # The test reaches its driver with path(): build it first, once per version.
        build.ensure_built(driver, rebuild=rebuild)
    missing = template.missing_upstream(runner_item, model)
    if missing:
        pairs = ", ".join(f"({test.kim_id}, {subject.kim_id})" for test, subject in missing)
        raise PipelineDataMissing(f"needs the results of {pairs}, which do not exist yet",
                                  kim_id=runner_item.kim_id)
    rendered = template.render_input(runner_item, model)
    run.stdin_text, run.upstream = rendered.text, rendered.upstream

    run.scratch = _make_scratch(runner_item, model)
    stdin_path = run.scratch / formats.of(runner_item).rendered_file
    stdin_path.write_text(rendered.text, encoding="utf-8")
    executable = executable_of(runner_item, run.scratch, built)
    # The scratch copy is removed after the run: record the name in the item, or the build.
    run.executable = str(built) if built is not None else executable.name
    if not executable.is_file():
        run.exit_code = 127  # what a shell reports for a command not found
        return results.record_error(run, Error.Category.NONZERO_EXIT,
                                    f"the executable {executable.name} is missing")
    if not os.access(executable, os.X_OK):
        run.exit_code = 126  # what a shell reports for a command that cannot run
        return results.record_error(run, Error.Category.NONZERO_EXIT,
                                    f"the executable {executable.name} is not executable")

    logger.info("running %s × %s in %s", runner_item.kim_id, model.kim_id, run.scratch)
    try:
        record = run_process(
            [str(executable)], cwd=run.scratch, stdin_path=stdin_path,
            stdout_path=run.scratch / config.STDOUT_FILE, stderr_path=run.scratch / config.STDERR_FILE,
            env=subprocess_environment(), timeout=run.timeout, limit=reading.output_limit(),
        )
    except OSError as exc:
        # A bad interpreter line or a non-program: the kernel refuses to start it.
        run.exit_code = 126
        return results.record_error(run, Error.Category.NONZERO_EXIT,
                                    f"the executable {executable.name} cannot start: {exc}")
    run.exit_code, run.timed_out = record.exit_code, record.timed_out
    run.runtime, run.usertime, run.memmax, run.output = (record.runtime, record.usertime,
                                                         record.memmax, record.output)
    if record.timed_out:
        return results.record_error(run, Error.Category.TIMEOUT,
                                    f"killed after the wall-clock limit of {run.timeout} s")
    if record.exit_code != 0:
        last = results.tail(run.scratch / config.STDERR_FILE, 1)
        return results.record_error(run, Error.Category.NONZERO_EXIT,
                                    f"{executable.name} exited with status {record.exit_code}"
                                    + (f"; its last words: {last[:300]}" if last else ""))
    try:
        found = formats.of(runner_item).read_results(run)
    except reading.NoResults as exc:
        return results.record_error(run, Error.Category.NO_RESULTS, str(exc))
    except PipelineResultsError as exc:
        return results.record_error(run, Error.Category.INVALID_RESULTS, str(exc))
    return results.record_result(run, found)


__all__ = ["run_pair", "run_process", "kill_tree", "subprocess_environment"]
