"""A driver's requirements.txt is checked at import against the environment that runs tests."""

from importlib import metadata

import pytest
from django.core.management import call_command

from repository.importer import import_repository
from repository.importer.requirements import requirement_lines, unmet_requirements
from repository.models import TestDriver

pytestmark = pytest.mark.django_db

DRIVER = "NeedsThings__TD_000000007001_000"


def write_driver(root, requirements: str):
    folder = root / "td" / DRIVER
    folder.mkdir(parents=True)
    (folder / "kimspec.edn").write_text(
        f'{{"extended-id" "{DRIVER}" "title" "needs things" "executables" ["runner"] '
        '"kim-api-version" "2.3"}\n')
    runner = folder / "runner"
    runner.write_text("#!/bin/sh\nexit 0\n")
    runner.chmod(0o755)
    (folder / "requirements.txt").write_text(requirements)
    return folder


def test_requirement_lines_skip_comments_options_and_blanks():
    text = "# a comment\n\n-r other.txt\n--index-url x\nase>=3 # inline\n  numpy\n"
    assert requirement_lines(text) == [(5, "ase>=3"), (6, "numpy")]


def test_the_worker_environment_has_what_openkim_tests_import(tmp_path):
    # kim-tools, numdifftools and kim-query are installed (pyproject.toml, bin/bootstrap).
    folder = write_driver(tmp_path, "kim-tools>=0.4\nnumdifftools\nkim-query\nkim_property\nase>=3.22\n")
    assert unmet_requirements(folder) == []


def test_an_unmet_requirement_is_a_warning_of_the_import_naming_it(tmp_path, repository_dir):
    ase_version = metadata.version("ase")
    write_driver(tmp_path, "\n".join([
        "numdifftools",
        "no-such-package-for-kim-tests>=1.0",
        "ase>=999",
        'pywin32>=300; sys_platform == "win32"',  # another platform's: not checked
        "not a requirement ===",
    ]) + "\n")
    report = import_repository(tmp_path)
    assert report.ok and report.created == [DRIVER]  # imported all the same
    assert TestDriver.objects.filter(kim_id=DRIVER).exists()
    warnings = [text for kim_id, text in report.warnings if kim_id == DRIVER]
    assert len(warnings) == 3, warnings
    assert "line 2: no-such-package-for-kim-tests>=1.0 is not installed" in warnings[0]
    assert f"line 3: ase>=999 is not met: the worker environment has ase {ase_version}" in warnings[1]
    assert "line 5: 'not a requirement ===' is not a requirement pip understands" in warnings[2]


def test_importrepo_prints_the_warning(tmp_path, repository_dir, capsys):
    write_driver(tmp_path, "no-such-package-for-kim-tests\n")
    call_command("importrepo", str(tmp_path))
    err = capsys.readouterr().err
    assert f"warning: {DRIVER}: requirements.txt line 1: no-such-package-for-kim-tests" in err
