"""The scratch folder's disk full (a real 2 MiB tmpfs): a resource Error, never a corrupt result."""

import subprocess

import pytest

from kimsite import config
from repository.models import Error, TestResult
from runner.execute import run_pair
from tests.fixtures.runner.cast import made_test

pytestmark = [pytest.mark.django_db, pytest.mark.kimapi, pytest.mark.dbneutral]


@pytest.fixture
def small_scratch_disk(tmp_path, monkeypatch):
    disk = tmp_path / "kim"
    disk.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(disk)],
                             capture_output=True, text=True)
    assert mounted.returncode == 0, f"this test mounts a tmpfs (root): {mounted.stderr}"
    monkeypatch.setattr(config, "KIM_DIR", disk)
    yield disk
    subprocess.run(["umount", "-l", str(disk)], check=True)


def test_a_run_that_fills_the_scratch_disk_is_a_resource_error(model, small_scratch_disk):
    test = made_test("FillsDisk__TE_000000021001_000", {"pipeline.stdin.tpl": "", "runner": """
        #!/bin/sh
        mkdir -p output
        head -c 5000000 /dev/zero > output/big || exit 1
        """})
    outcome = run_pair(test, model)
    assert isinstance(outcome, Error) and outcome.category == Error.Category.RESOURCE, (
        getattr(outcome, "category", outcome), getattr(outcome, "message", ""))
    assert "disk" in outcome.message and not TestResult.objects.exists()


def test_a_test_folder_too_big_for_the_scratch_disk_is_a_resource_error(model, small_scratch_disk):
    test = made_test("TooBig__TE_000000021002_000", {
        "pipeline.stdin.tpl": "", "runner": "#!/bin/sh\nexit 0\n", "data.bin": b"x" * 3_000_000})
    outcome = run_pair(test, model)
    assert isinstance(outcome, Error) and outcome.category == Error.Category.RESOURCE, (
        getattr(outcome, "category", outcome), getattr(outcome, "message", ""))
    assert not list(small_scratch_disk.glob("scratch/*/*"))  # its half copy is gone too
