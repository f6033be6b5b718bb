"""Run one (runner, model) pair end to end: the one path of the command line, the queue and the admin.

Match, find the runner's build (made at import by ``runner.build``, never here), render, run
the executable in a fresh scratch folder under a wall-clock limit (``runner.processes``), then
keep a TestResult / VerificationResult or a categorised Error (``runner.results``).
"""

import errno
import logging
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

from django.conf import settings
from django.db import InterfaceError, OperationalError
from django.utils import timezone

from kimsite import config
from repository import kimapi
from repository.errors import (
    PipelineBuildError,
    PipelineDataMissing,
    PipelineIntegrityError,
    PipelineResourceError,
    PipelineResultsError,
    PipelineTemplateError,
)
from repository.matching import match
from repository.models import Error, Model
from runner import (
    build,
    environment,
    formats,
    integrity,
    owners,
    processes,
    provenance,
    reading,
    results,
    sandbox,
    template,
    warm,
)
from runner.sync import hooks as sync_hooks

logger = logging.getLogger("pipeline.runner")

def subprocess_environment() -> dict:
    """The environment of a runner: the KIM API's, with the project's .venv/bin first on PATH."""
    env = kimapi.subprocess_environment()
    env["PATH"] = os.pathsep.join([provenance.interpreter_bin(), env.get("PATH", "/usr/bin:/bin")])
    # glibc writes fatal errors (e.g. double free) to stderr instead of the tty (as in 2013).
    env["LIBC_FATAL_STDERR_"] = "1"
    # A driver imported from its item folder must not leave __pycache__ there (integrity).
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    # One thread per BLAS/OpenMP pool: a worker per core, and the warm server must be
    # single-threaded when it forks (a run may still set its own in its environment).
    for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS"):
        env.setdefault(name, "1")
    env.pop("DJANGO_SETTINGS_MODULE", None)
    return env


# ---------------------------------------------------------------------------------------------
# One pair


def timeout_of(runner_item) -> int:
    return runner_item.timeout or config.RUNNER_TIMEOUT


def _make_scratch(runner_item, model) -> Path:
    # Under this worker's own folder (scratch/<host>+<pid>/), so runner.cleanup knows whose it is.
    root = owners.owner_scratch()
    root.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=f"{runner_item.kim_id}__{model.kim_id}.", dir=root))
    try:
        shutil.copytree(runner_item.path, scratch, symlinks=True, dirs_exist_ok=True)
    except BaseException:
        shutil.rmtree(scratch, ignore_errors=True)  # no half copy left behind (a full disk)
        raise
    output = scratch / "output"
    shutil.rmtree(output, ignore_errors=True)
    output.mkdir()
    return scratch


def executable_of(runner_item, scratch: Path, built: Path | None) -> Path:
    if built is not None:
        return built
    return scratch / formats.of(runner_item).executable_name(runner_item)


def run_pair(runner_item, model: Model, *, rebuild: bool = False,
             heartbeat: Callable[[], None] | None = None):
    """Run ``runner_item`` (a Test or VerificationCheck) on ``model``; return what was kept.

    Returns a TestResult, a VerificationResult, or an Error whose ``category`` says what went
    wrong. Only a failure to write the outcome itself raises, and what ``heartbeat`` raises:
    it is called just before the runner starts, about every PIPELINE_HEARTBEAT_SECONDS while
    it runs, and once more just before the outcome is kept (the queue extends the job's
    lease); if it raises, the runner is killed, nothing is kept, and its exception
    propagates. ``rebuild`` (the command line's ``runpair --rebuild``) builds the
    runner again first; otherwise a run never builds (builds happen at import).
    """
    # With a remote: pull what this run reads; a remote that cannot give it fails the attempt
    # (raised, nothing kept), it is not the pair's outcome.
    sync_hooks.before_run(runner_item, model)
    run = reading.Run(runner_item=runner_item, model=model, created_at=timezone.now(),
                      timeout=timeout_of(runner_item))
    try:
        # With a remote: push the kept outcome to its write area (runner.sync.hooks).
        return sync_hooks.after_keep(_run_and_keep(run, rebuild=rebuild, heartbeat=heartbeat))
    except processes.HeartbeatFailed as exc:
        raise exc.cause from None
    finally:
        if run.scratch is not None:
            shutil.rmtree(run.scratch, ignore_errors=True)


def _renewed(heartbeat) -> None:
    """The lease renewed once more just before an outcome is kept: if that fails, none is."""
    if heartbeat is not None:
        try:
            heartbeat()
        except Exception as exc:
            raise processes.HeartbeatFailed(exc) from exc


def _error(run: reading.Run, heartbeat, category, message: str):
    _renewed(heartbeat)
    return results.record_error(run, category, message)


def _run_and_keep(run: reading.Run, *, rebuild: bool, heartbeat):
    try:
        return _run(run, rebuild=rebuild, heartbeat=heartbeat)
    except (processes.HeartbeatFailed, OperationalError, InterfaceError):
        # A database gone mid-run is the machinery's fault, not the pair's outcome: the queue
        # gives the attempt back (runner.jobs.database_gone), nothing is kept.
        raise
    except PipelineDataMissing as exc:
        return _error(run, heartbeat, Error.Category.DEPENDENCY, str(exc))
    except PipelineTemplateError as exc:
        return _error(run, heartbeat, Error.Category.TEMPLATE, str(exc))
    except PipelineIntegrityError as exc:
        return _error(run, heartbeat, Error.Category.INTEGRITY, str(exc))
    except PipelineResourceError as exc:
        return _error(run, heartbeat, Error.Category.RESOURCE, str(exc))
    except PipelineBuildError as exc:
        run.build_log, run.built_item = exc.log, exc.kim_id or ""
        return _error(run, heartbeat, Error.Category.BUILD, str(exc))
    except Exception as exc:
        logger.exception("%s × %s: the pipeline failed", run.runner_item.kim_id, run.model.kim_id)
        return _error(run, heartbeat, Error.Category.INTERNAL, f"{type(exc).__name__}: {exc}")


def _run(run: reading.Run, *, rebuild: bool, heartbeat):
    runner_item, model = run.runner_item, run.model
    verdict = match(runner_item, model)
    if not verdict.ok:
        return _error(run, heartbeat, Error.Category.MISMATCH,
                                    f"{runner_item.kim_id} does not match {model.kim_id} "
                                    f"(rule {verdict.rule}): {verdict.reason}")
    driver = getattr(runner_item, "driver", None)
    if rebuild:
        for item in (driver, runner_item):
            if item is not None:
                build.ensure_built(item, rebuild=True)
    # The test reaches its driver with path(): the driver's build must exist too.
    if driver is not None:
        build.built_executable(driver)
    built = build.built_executable(runner_item)
    missing = template.missing_upstream(runner_item, model)
    if missing:
        pairs = "; ".join(f"{test.kim_id} × {subject.kim_id}" for test, subject in missing)
        raise PipelineDataMissing(f"needs the results of {pairs}, which do not exist yet",
                                  kim_id=runner_item.kim_id)
    # Before any of their code runs: the runner and its driver are what was imported.
    integrity.check_unchanged(runner_item, driver)
    rendered = template.render_input(runner_item, model)
    run.stdin_text, run.upstream = rendered.text, rendered.upstream

    try:
        run.scratch = _make_scratch(runner_item, model)
        stdin_path = run.scratch / formats.of(runner_item).rendered_file
        stdin_path.write_text(rendered.text, encoding="utf-8")
    except (OSError, shutil.Error) as exc:
        if errno.ENOSPC not in (getattr(exc, "errno", None), *_errnos(exc)):
            raise
        raise PipelineResourceError(f"the disk of the scratch folder is full: {exc}"[:500],
                                    kim_id=runner_item.kim_id) from exc
    executable = executable_of(runner_item, run.scratch, built)
    # The scratch copy is removed after the run: record the name in the item, or the build.
    run.executable = str(built) if built is not None else executable.name
    if not executable.is_file():
        run.exit_code = 127  # what a shell reports for a command not found
        return _error(run, heartbeat, Error.Category.NONZERO_EXIT,
                                    f"the executable {executable.name} is missing")
    if not os.access(executable, os.X_OK):
        run.exit_code = 126  # what a shell reports for a command that cannot run
        return _error(run, heartbeat, Error.Category.NONZERO_EXIT,
                                    f"the executable {executable.name} is not executable")

    logger.info("running %s × %s in %s", runner_item.kim_id, model.kim_id, run.scratch)
    box = _sandbox_of(run, driver, built)
    home = run.scratch / ".home"
    home.mkdir()
    env = run_environment(home)
    # Started (at the worker's spawn, else here) before the run, so never taken for the run's.
    server = warm.server_for(env)
    if server is not None:
        env = warm.with_warm_path(env, server.bin)
        box.readable.append(server.folder)
    run_tag = f"{owners.owner()}/{run.scratch.name}"
    try:
        box.prepare()
        record = processes.run_process(
            box.command([str(executable)]), cwd=run.scratch, stdin_path=stdin_path,
            stdout_path=run.scratch / config.STDOUT_FILE, stderr_path=run.scratch / config.STDERR_FILE,
            env=env, timeout=run.timeout, limit=reading.output_limit(), run_tag=run_tag,
            heartbeat=heartbeat, limits=box.apply_limits, launcher=box.launcher,
            contained=sandbox.enabled(),
        )
        if server is not None:
            # The warm forks are the server's children, not the runner's: their user time and
            # peak memory are the job's all the same.
            used = server.usage(run_tag)
            record.usertime = (record.usertime or 0.0) + used.utime
            record.memmax = max(record.memmax or 0, used.maxrss)
    except OSError as exc:
        # A bad interpreter line or a non-program: the kernel refuses to start it.
        run.exit_code = 126
        return _error(run, heartbeat, Error.Category.NONZERO_EXIT,
                                    f"the executable {executable.name} cannot start: {exc}")
    finally:
        box.release()
    run.exit_code, run.timed_out = record.exit_code, record.timed_out
    run.runtime, run.usertime, run.memmax, run.output = (record.runtime, record.usertime,
                                                         record.memmax, record.output)
    if record.timed_out:
        return _error(run, heartbeat, Error.Category.TIMEOUT,
                                    f"killed after the wall-clock limit of {run.timeout} s")
    if (failure := sandbox.start_failure(record.exit_code, _head(run.scratch / config.STDERR_FILE))):
        run.exit_code = 126
        return _error(run, heartbeat, Error.Category.NONZERO_EXIT,
                      f"the executable {executable.name} cannot start: {failure}")
    if record.exit_code != 0:
        reached = sandbox.limit_reached(run, results.tail(run.scratch / config.STDERR_FILE), box)
        if reached:
            raise PipelineResourceError(f"{executable.name} stopped: {reached}",
                                        kim_id=runner_item.kim_id)
        missing = environment.missing_module(run.scratch / config.STDERR_FILE)
        if missing:
            return _error(run, heartbeat, Error.Category.ENVIRONMENT, missing)
        last = results.tail(run.scratch / config.STDERR_FILE, 1)
        return _error(run, heartbeat, Error.Category.NONZERO_EXIT,
                                    f"{executable.name} exited with status {record.exit_code}"
                                    + (f"; its last words: {last[:300]}" if last else ""))
    output_bytes = sandbox.folder_size(run.scratch / "output", settings.RUNNER_OUTPUT_FOLDER_LIMIT)
    if output_bytes > settings.RUNNER_OUTPUT_FOLDER_LIMIT:
        raise PipelineResourceError(f"output/ holds more than RUNNER_OUTPUT_FOLDER_LIMIT "
                                    f"({settings.RUNNER_OUTPUT_FOLDER_LIMIT} bytes)",
                                    kim_id=runner_item.kim_id)
    try:
        found = formats.of(runner_item).read_results(run)
    except reading.NoResults as exc:
        return _error(run, heartbeat, Error.Category.NO_RESULTS, str(exc))
    except PipelineResultsError as exc:
        return _error(run, heartbeat, Error.Category.INVALID_RESULTS, str(exc))
    _renewed(heartbeat)
    return results.record_result(run, found)


def _errnos(exc) -> list:
    """The errnos of a shutil.Error's list of (source, target, reason) failures."""
    failures = exc.args[0] if isinstance(exc, shutil.Error) and exc.args else []
    return [errno.ENOSPC for *_, why in failures if "No space left" in str(why)]


def _head(path: Path) -> str:
    with open(path, "rb") as handle:
        return handle.read(4096).decode(errors="replace")


def _sandbox_of(run: reading.Run, driver, built: Path | None) -> sandbox.Sandbox:
    """What the run may read: the repository, the builds, the KIM API collections, its items."""
    readable = [config.KIM_REPOSITORY_DIR, build.build_area(), config.KIM_API_DIR,
                Path(run.runner_item.path)]
    if driver is not None:
        readable.append(Path(driver.path))
    if built is not None:
        readable.append(built.parent)
    return sandbox.Sandbox(scratch=run.scratch, readable=readable)


def run_environment(home: Path) -> dict:
    """The environment of a run whose HOME is ``home`` (before the warm PATH)."""
    return sandbox.environment(subprocess_environment(), home)


def start_warm_server() -> "warm.WarmServer | None":
    """This worker's warm server, started when the worker starts rather than at its first job:
    its imports (seconds) then overlap the worker's own start, and its first jobs run warm.
    The environment is a run's (HOME aside, which differs from run to run anyway)."""
    try:
        return warm.server_for(run_environment(Path(tempfile.gettempdir())))
    except Exception:  # noqa: BLE001 — the first job starts it, or runs cold, as without this
        logger.exception("the warm server did not start with its worker")
        return None


__all__ = ["run_pair", "subprocess_environment", "timeout_of", "start_warm_server"]
