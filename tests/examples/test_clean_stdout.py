"""Runners keep a chatty model's output off stdout: stdout carries only what the runner says."""

import json
import subprocess
import sys

import pytest

from runner.execute import subprocess_environment
from tests.conftest import EXAMPLES_DIR

from . import models
from .pipeline import example_check, example_test, kept, run, values

pytestmark = pytest.mark.kimapi


@pytest.fixture(scope="module")
def chatter(tmp_path_factory):
    """What the chatty model prints on stdout when created (so these tests can fail)."""
    done = subprocess.run(
        [sys.executable, "-c", f"from ase.calculators.kim import KIM; KIM({models.W_CHATTY!r})"],
        capture_output=True, text=True, env=subprocess_environment(), timeout=60, check=True,
        cwd=tmp_path_factory.mktemp("chatter"),  # where the KIM API writes kim.log
    )
    assert done.stdout.strip(), "the model no longer prints: pick another chatty model"
    return done.stdout.strip().splitlines()[0]


def assert_only_own_line(outcome, chatter, starts_with):
    """The run's kept stdout is the runner's one line; the model's chatter is kept, on stderr."""
    lines = kept(outcome, "pipeline.stdout").splitlines()
    assert len(lines) == 1 and lines[0].startswith(starts_with), lines
    assert chatter in kept(outcome, "pipeline.stderr"), "the model's output is kept, on stderr"


@pytest.mark.django_db
def test_test_runners_keep_stdout_clean(examples, chatter):
    lattice = run(example_test("LatticeConstantCubicEnergy_bcc_W"), models.W_CHATTY)
    assert_only_own_line(lattice, chatter, f"W bcc {models.W_CHATTY}: a = ")
    (a,) = values(lattice, "structure-cubic-crystal-npt", "a")
    assert 3.13 <= a <= 3.19  # W: 3.165 Å (experiment, which the model is fitted to)

    for stem in ("BulkModulusCubic", "ElasticConstantsCubic"):
        result = run(example_test(f"{stem}_bcc_W"), models.W_CHATTY)
        assert result.provenance["upstream-results"] == [lattice.kim_id]
        assert_only_own_line(result, chatter, f"W bcc {models.W_CHATTY}: ")
        assert result.values.exists()


@pytest.mark.django_db
def test_verification_check_keeps_stdout_clean(examples, chatter):
    result = run(example_check("SpeciesSupportedAsStated"), models.W_CHATTY)
    assert_only_own_line(result, chatter, f"{models.W_CHATTY}: P")


def test_2012_driver_prints_its_json_alone(chatter, tmp_path):
    # A plain process: the driver's stdout as it is, with no test or template in between.
    driver = next((EXAMPLES_DIR / "td").glob("LatticeConstantCubicJSON__TD_*"))
    done = subprocess.run(
        [str(driver / driver.name)], input=f"W\nbcc\n{models.W_CHATTY}\n3.16\n",
        capture_output=True, text=True, env=subprocess_environment(), timeout=120, cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    (line,) = done.stdout.splitlines()
    assert 3.13 <= json.loads(line)["lattice_constant"] <= 3.19
    assert chatter in done.stderr
