"""The README tells the truth: every ``manage.py`` example in it runs, as typed, on the example
repository imported as ``bin/setup`` imports it; every command and every environment variable
the settings read is documented."""

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import get_commands

PROJECT = Path(__file__).resolve().parents[2]
README = (PROJECT / "README.md").read_text()

#: Servers and an interactive prompt: they never exit by themselves; checked to exist instead.
LONG_RUNNING = {"qcluster", "runserver", "createsuperuser"}


def sh_blocks(text: str) -> list[str]:
    return re.findall(r"```sh\n(.*?)```", text, flags=re.S)


def example_commands(text: str = README) -> list[list[str]]:
    """Every ``manage.py`` command of the README's sh blocks, comments dropped, lines joined."""
    commands = []
    for block in sh_blocks(text):
        for line in block.replace("\\\n", " ").splitlines():
            words = shlex.split(line, comments=True)
            if "manage.py" in words:
                commands.append(words[words.index("manage.py") + 1:])
    return commands


def test_the_readme_is_read_as_commands():
    commands = example_commands()
    names = [c[0] for c in commands]
    assert {"importrepo", "runpair", "submit", "runpending", "pipelinestatus", "errors"} <= set(names)
    assert ["runpair", "TE_514507648222", "EAM_Dynamo_ErcolessiAdams_1994_Al__MO_123629422045_005",
            "--force", "--dry-run"] in commands


@pytest.mark.slow
@pytest.mark.kimapi
@pytest.mark.dbneutral  # its commands run on the embedded SQLite whatever the suite's database
def test_every_example_command_runs_on_the_example_repository(tmp_path):
    # A process of its own, as typed: it inherits nothing of the suite's settings.
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), "KIM_DIR": str(tmp_path / "kim"),
           "KIM_LOG_DIR": str(tmp_path / "logs"), "LANG": "C.UTF-8"}

    def manage(*args) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "manage.py", *args], cwd=PROJECT, env=env,
                              capture_output=True, text=True, timeout=900)

    assert manage("migrate", "--no-input", "-v0").returncode == 0
    ran = []
    for args in example_commands():
        if args[0] in LONG_RUNNING:
            assert manage("help", args[0]).returncode == 0, args
            continue
        done = manage(*args)
        assert done.returncode == 0, f"manage.py {' '.join(args)}:\n{done.stdout}\n{done.stderr}"
        ran.append((args, done.stdout))
    outputs = {" ".join(args): out for args, out in ran}
    first = outputs["runpair LatticeConstantCubicEnergy_fcc_Al__TE_514507648222 "
                    "EAM_Dynamo_ErcolessiAdams_1994_Al__MO_123629422045_005"]
    assert first.startswith("TR_") and "angstrom" in first
    again = outputs["runpair TE_514507648222 EAM_Dynamo_ErcolessiAdams_1994_Al__MO_123629422045_005"]
    assert "not run again" in again
    assert "outcomes: " in outputs["pipelinestatus"]


def test_every_project_command_is_in_the_readme():
    ours = sorted(name for name, app in get_commands().items()
                  if app in ("repository", "runner", "queryapi", "public", "kimsite"))
    missing = [name for name in ours if f"`{name}" not in README]
    assert not missing, f"commands the README does not document: {missing}"


def test_every_environment_variable_the_settings_read_is_in_the_readme():
    read = set()
    for module in ("kimsite/settings.py", "kimsite/config.py"):
        read |= set(re.findall(r'env_(?:str|int|bool|path)\("([A-Z0-9_]+)"',
                               (PROJECT / module).read_text()))
    assert {"ALLOWED_HOSTS", "LOG_LEVEL", "KIM_LOG_DIR"} <= read
    missing = sorted(name for name in read if name not in README)
    assert not missing, f"environment variables the README does not document: {missing}"


def test_the_readme_says_how_to_reach_the_pages_and_the_admin():
    assert "createsuperuser" in README and "http://127.0.0.1:8000/admin/" in README
    assert "http://127.0.0.1:8000/" in (PROJECT / "bin" / "setup").read_text()
