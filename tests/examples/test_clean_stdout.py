"""Runners keep a chatty model's output off stdout: stdout carries only what the runner says."""

import json
import subprocess
import sys

import pytest

from . import models
from .standin import Upstream, item_dir, property_values, run_item, short_code, subprocess_env

pytestmark = pytest.mark.kimapi


@pytest.fixture(scope="module")
def chatter():
    """What the chatty model prints on stdout when created (so these tests can fail)."""
    done = subprocess.run(
        [sys.executable, "-c", f"from ase.calculators.kim import KIM; KIM({models.W_CHATTY!r})"],
        capture_output=True, text=True, env=subprocess_env(), timeout=60, check=True,
    )
    assert done.stdout.strip(), "the model no longer prints: pick another chatty model"
    return done.stdout.strip().splitlines()[0]


def assert_only_own_line(run, chatter, starts_with):
    assert run.returncode == 0, run.stderr[-3000:]
    lines = run.stdout.splitlines()
    assert len(lines) == 1 and lines[0].startswith(starts_with), run.stdout
    assert chatter in run.stderr, "the model's output is kept, on stderr"


def test_test_runners_keep_stdout_clean(chatter, tmp_path):
    lattice = item_dir("LatticeConstantCubicEnergy_bcc_W", "TE")
    run = run_item(lattice, models.W_CHATTY, tmp_path / "lattice")
    assert_only_own_line(run, chatter, f"W bcc {models.W_CHATTY}: a = ")
    (a,) = property_values(run.results, "structure-cubic-crystal-npt", "a")
    assert 3.13 <= a <= 3.19  # W: 3.165 Å (experiment, which the model is fitted to)

    upstream = Upstream({(short_code(lattice), models.W_CHATTY): run.results_text})
    for stem in ("BulkModulusCubic", "ElasticConstantsCubic"):
        run = run_item(item_dir(f"{stem}_bcc_W", "TE"), models.W_CHATTY, tmp_path / stem, upstream)
        assert_only_own_line(run, chatter, f"W bcc {models.W_CHATTY}: ")
        assert run.results


def test_verification_check_keeps_stdout_clean(chatter, tmp_path):
    run = run_item(item_dir("SpeciesSupportedAsStated", "VC"), models.W_CHATTY, tmp_path)
    assert_only_own_line(run, chatter, f"{models.W_CHATTY}: P")


def test_2012_driver_prints_its_json_alone(chatter):
    driver = item_dir("LatticeConstantCubicJSON", "TD")
    done = subprocess.run(
        [str(driver / driver.name)], input=f"W\nbcc\n{models.W_CHATTY}\n3.16\n",
        capture_output=True, text=True, env=subprocess_env(), timeout=120,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    (line,) = done.stdout.splitlines()
    assert 3.13 <= json.loads(line)["lattice_constant"] <= 3.19
    assert chatter in done.stderr
