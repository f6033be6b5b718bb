"""The warm server's forks are the processes a fresh interpreter would have been.

Each script runs twice through the job's PATH: as the real interpreter (``PIPELINE_PREWARM``
off: no shim on PATH) and through the shim, forked from the warm server. Their stdout, stderr
and exit status must be the same, and the warm one must really have been forked (the server
accounts it).
"""

import signal
import subprocess
import time
from pathlib import Path

import pytest

from runner import execute, processes, sandbox, warm
from tests.fixtures.runner.warm import ready_warm_server

pytestmark = [pytest.mark.kimapi, pytest.mark.dbneutral]

SCRIPT = """\
import os, sys
import numpy, ase, kimpy, kim_property
print("argv", sys.argv[1:], "path0", sys.path[0], "file", os.path.basename(__file__))
print("cwd", os.getcwd(), "name", __name__, "executable", sys.executable)
print("env", os.environ["HOME"], os.environ["KIM_PIPELINE_RUN"])
print("stdin", sys.stdin.read().strip())
print("to stderr", file=sys.stderr)
sys.exit(int(sys.argv[1]))
"""


@pytest.fixture
def server(tmp_path, settings):
    settings.PIPELINE_PREWARM = "on"
    warm.stop()
    found = ready_warm_server(tmp_path / "home")
    yield found
    warm.stop()


def _run(server, argv, cwd, tag, *, warm_path=True, extra=None, stdin="the input\n", timeout=60):
    env = sandbox.environment(execute.subprocess_environment(), cwd / ".home")
    env.update({processes.RUN_VARIABLE: tag, **(extra or {})})
    if warm_path:
        env = warm.with_warm_path(env, server.bin)
    (cwd / ".home").mkdir(exist_ok=True)
    done = subprocess.run(argv, cwd=cwd, env=env, input=stdin, capture_output=True, text=True,
                          timeout=timeout, check=False)
    return done, server.usage(tag)


def _both(server, tmp_path, argv, **kwargs):
    cwd = tmp_path / "job"
    cwd.mkdir(exist_ok=True)
    fresh, unused = _run(server, argv, cwd, "a-run", warm_path=False, **kwargs)
    warmed, used = _run(server, argv, cwd, "a-run", **kwargs)
    assert unused.jobs == 0
    return fresh, warmed, used


def _script(tmp_path, text=SCRIPT) -> Path:
    folder = tmp_path / "item"
    folder.mkdir(exist_ok=True)
    path = folder / "runner"
    path.write_text("#!/usr/bin/env python3\n" + text)
    path.chmod(0o755)
    return path


def test_a_warm_fork_has_the_argv_folder_environment_streams_and_status_of_a_fresh_process(server, tmp_path):
    fresh, warmed, used = _both(server, tmp_path, [str(_script(tmp_path)), "3", "more"])
    assert used.jobs == 1, "the script was not forked from the warm server"
    assert (warmed.stdout, warmed.stderr, warmed.returncode) == (fresh.stdout, fresh.stderr, 3)
    assert "argv ['3', 'more']" in fresh.stdout and "stdin the input" in fresh.stdout
    assert f"env {tmp_path / 'job' / '.home'} " in fresh.stdout


@pytest.mark.parametrize("body, status", [
    ("raise ValueError('a broken test')\n", 1),
    ("import sys\nsys.exit('said why')\n", 1),
    ("import os, signal\nos.kill(os.getpid(), signal.SIGTERM)\n", -signal.SIGTERM),
    ("import sys\nsys.stdout.write('no newline')\nsys.exit(0)\n", 0),
])
def test_a_warm_fork_ends_as_a_fresh_process_does(server, tmp_path, body, status):
    fresh, warmed, used = _both(server, tmp_path, [str(_script(tmp_path, body))])
    assert used.jobs == 1
    assert fresh.returncode == status
    assert (warmed.stdout, warmed.stderr, warmed.returncode) == (fresh.stdout, fresh.stderr, status)


@pytest.mark.parametrize("argv", [
    ["python3", "-c", "import sys; print(sys.argv, sys.path[0] == '', __name__)", "x"],
    ["python3", "-u", "-c", "print('unbuffered')"],
    ["python3", "-m", "json.tool"],
])
def test_command_and_module_invocations_are_warm_too(server, tmp_path, argv):
    fresh, warmed, used = _both(server, tmp_path, argv, stdin='{"a": [1, 2]}')
    assert used.jobs == 1
    assert (warmed.stdout, warmed.stderr, warmed.returncode) == (fresh.stdout, fresh.stderr, 0)


def test_what_a_pre_imported_module_would_read_differently_runs_cold(server, tmp_path):
    # numpy sized its thread pools from this at import: the server's answer would be wrong.
    fresh, warmed, used = _both(server, tmp_path, [str(_script(tmp_path)), "0"],
                                extra={"OPENBLAS_NUM_THREADS": "2"})
    assert used.jobs == 0, "forked although the job's environment differs at import"
    assert (warmed.stdout, warmed.returncode) == (fresh.stdout, 0)


def test_nothing_of_one_job_survives_into_the_next(server, tmp_path):
    cwd = tmp_path / "job"
    cwd.mkdir()
    first = _script(tmp_path, "import numpy, sys\nnumpy.left_by_a_job = 1\nsys.modules['left'] = 1\n")
    done, used = _run(server, [str(first)], cwd, "first")
    assert done.returncode == 0 and used.jobs == 1
    second = _script(tmp_path, "import numpy, sys\nprint(hasattr(numpy, 'left_by_a_job'), 'left' in sys.modules)\n")
    done, used = _run(server, [str(second)], cwd, "second")
    assert used.jobs == 1 and done.stdout == "False False\n"


def test_a_fork_accounts_its_own_time_and_memory(server, tmp_path):
    body = "import numpy\nblock = numpy.ones(50_000_000)\nt = sum(range(20_000_000))\n"
    done, used = _run(server, [str(_script(tmp_path, body))], tmp_path, "busy")
    assert done.returncode == 0 and used.jobs == 1
    assert used.utime > 0.2, used
    assert used.maxrss > 400_000, used  # KiB: the 400 MB array, as a fresh process would show


def test_a_fork_dies_when_its_shim_is_killed(server, tmp_path):
    body = "import os, time\nprint(os.getpid(), flush=True)\ntime.sleep(120)\n"
    env = warm.with_warm_path(sandbox.environment(execute.subprocess_environment(), tmp_path),
                              server.bin)
    shim = subprocess.Popen([str(_script(tmp_path, body))], env=env, stdout=subprocess.PIPE,
                            text=True, cwd=tmp_path)
    fork = int(shim.stdout.readline())
    assert fork != shim.pid and Path(f"/proc/{fork}").exists()
    shim.kill()
    shim.wait()
    deadline = time.monotonic() + 10
    while Path(f"/proc/{fork}").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not Path(f"/proc/{fork}").exists(), "the warm fork outlived its shim"


def test_the_warm_server_is_single_threaded_and_off_with_prewarm_0(server, settings):
    server.process.stdin.write(b"ping\n")
    server.process.stdin.flush()
    assert server._answer(10) == {"pong": True, "threads": 1}
    settings.PIPELINE_PREWARM = "0"
    assert warm.server_for(sandbox.environment(execute.subprocess_environment(), Path("/tmp"))) is None


def test_the_server_started_with_a_worker_is_the_one_its_first_run_uses(settings, tmp_path):
    settings.PIPELINE_PREWARM = "on"
    warm.stop()
    try:
        started = execute.start_warm_server()  # what a new worker does (runner.apps)
        assert started is not None and started.alive()
        run = sandbox.environment(execute.subprocess_environment(), tmp_path / "run" / ".home")
        assert warm.server_for(run) is started, "the first run restarted the server"
    finally:
        warm.stop()
