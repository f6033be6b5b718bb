"""A run's limits are those of the settings whether the compiled launcher (``runner/launch.c``,
after a vfork of the worker) or a forked worker's preexec function (no C compiler) sets them."""

import os
import subprocess

import pytest

from repository.models import Error
from runner import native, sandbox

pytestmark = [pytest.mark.django_db, pytest.mark.kimapi, pytest.mark.dbneutral]

READ_LIMITS = """
rows = {l[:26].strip(): l[26:].split()[:2] for l in open("/proc/self/limits").read().splitlines()[1:]}
for name in ("Max address space", "Max core file size", "Max file size", "Max open files"):
    print(name, *rows[name])
sys.exit(1)
"""


@pytest.fixture(params=["launcher", "no compiler"])
def setter(request, monkeypatch):
    if request.param == "no compiler":
        def refuse(source, name):
            raise native.NotCompiled(f"no C compiler to build {source.name}")
        monkeypatch.setattr(native, "compiled", refuse)
    return request.param


def test_a_run_has_the_limits_of_the_settings(hostile, setter, settings):
    settings.RUNNER_MEMORY_LIMIT = 3 * 1024 ** 3
    settings.RUNNER_FILE_SIZE_LIMIT = 7 * 1024 ** 2
    settings.RUNNER_OPEN_FILES_LIMIT = 300
    outcome = hostile(READ_LIMITS)
    assert isinstance(outcome, Error), outcome
    seen = outcome.stdout_tail.splitlines()
    assert f"Max address space {3 * 1024 ** 3} {3 * 1024 ** 3}" in seen, seen
    assert "Max core file size 0 0" in seen, seen
    assert f"Max file size {7 * 1024 ** 2} {7 * 1024 ** 2}" in seen, seen
    assert "Max open files 300 300" in seen, seen


def test_the_launcher_is_compiled_once_and_shared(tmp_path, settings):
    first = native.compiled(sandbox.LAUNCHER_SOURCE, "kim-launch")
    assert native.compiled(sandbox.LAUNCHER_SOURCE, "kim-launch") == first
    assert first.stat().st_mode & 0o111


def test_a_launcher_that_cannot_join_its_cgroup_is_a_start_failure_that_says_so(tmp_path):
    program = native.compiled(sandbox.LAUNCHER_SOURCE, "kim-launch")
    done = subprocess.run([str(program), str(os.getpid()), str(tmp_path / "no" / "cgroup.procs"),
                           "-1", "0", "-1", "-1", "-1", "--", "true"], capture_output=True, text=True)
    assert done.returncode == 126
    failure = sandbox.start_failure(done.returncode, done.stderr)
    assert failure and "no/cgroup.procs" in failure and "No such file" in failure, done.stderr


def test_a_launcher_whose_parent_is_not_the_worker_exits_before_the_program(tmp_path):
    program = native.compiled(sandbox.LAUNCHER_SOURCE, "kim-launch")
    marker = tmp_path / "ran"
    done = subprocess.run([str(program), "1", "-", "-1", "0", "-1", "-1", "-1", "--",
                           "touch", str(marker)], capture_output=True, text=True)
    assert done.returncode == 1 and not marker.exists()


def test_a_folder_the_launcher_cannot_be_built_into_is_not_compiled_not_a_run_failure(
        tmp_path, monkeypatch):
    from kimsite import config

    blocker = tmp_path / "kim"
    blocker.write_text("a file where KIM_DIR's folder would be")
    monkeypatch.setattr(config, "KIM_DIR", blocker)
    with pytest.raises(native.NotCompiled, match="cannot be built into"):
        native.compiled(sandbox.LAUNCHER_SOURCE, "kim-launch")
