"""The example drivers say when they cannot give an honest answer, and compute what they write.

The SiC MEAM case runs through the pipeline (run_pair) on the installed model; the stress cases
run a driver by hand, as a user would, and compare with ASE's own stress of the same cell.
"""

import math
import subprocess
import sys

import kim_edn
import numpy as np
import pytest
from ase.calculators.kim import KIM
from ase.units import GPa

from repository.models import Error, Model, TestResult
from runner.execute import run_pair, subprocess_environment
from tests.conftest import EXAMPLES_DIR

from . import models
from .pipeline import example_test, explain, instance_values, run

pytestmark = [pytest.mark.kimapi, pytest.mark.django_db]

DRIVERS = EXAMPLES_DIR / "td"
(TOOLS,) = DRIVERS.glob("ExampleDriverTools__TD_*")


@pytest.fixture(autouse=True)
def _kim_log_in_a_scratch_folder(tmp_path, monkeypatch):
    # These tests create KIM API models in this process: the KIM API writes kim.log into the
    # working folder, which must never be the checkout (tests/conftest.py guards it).
    monkeypatch.chdir(tmp_path)


def drivertools():
    """The shared driver module, imported the way the drivers import it (it does nothing when
    imported: the stdout guard is a function the programs call)."""
    sys.path.insert(0, str(TOOLS))
    try:
        import drivertools
    finally:
        sys.path.remove(str(TOOLS))
    return drivertools


def run_driver(name, lines, cwd):
    """A driver's runner started by hand on `lines`; (exit status, stderr, instances or None)."""
    (folder,) = DRIVERS.glob(f"{name}__TD_*")
    done = subprocess.run([str(folder / "runner")], input="".join(f"{x}\n" for x in lines),
                          capture_output=True, text=True, cwd=cwd, env=subprocess_environment(),
                          timeout=300)
    results = cwd / "output" / "results.edn"
    return done.returncode, done.stderr, kim_edn.load(str(results)) if results.exists() else None


@pytest.fixture(scope="module")
def sic_diamond_lattice(examples):
    """The lattice test of diamond C on the SiC MEAM model, run once, outside each test's savepoint.
    (Its scan is of symmetric cells, where the model's drift cancels: it succeeds.)"""
    lattice = run_pair(example_test("LatticeConstantCubicEnergy_diamond_C"),
                       Model.objects.get(kim_id=models.SIC_MEAM_WAGNER))
    yield lattice
    lattice.delete()


def test_elastic_constants_of_a_model_that_keeps_state_between_calls_end_as_an_error(sic_diamond_lattice):
    # Before: c44 = -2.8e7 GPa recorded as a valid result (a relaxation of hundreds of calls ran
    # away on the model's drift, and nobody asked whether it converged).
    assert isinstance(sic_diamond_lattice, TestResult), explain(sic_diamond_lattice)
    outcome = run_pair(example_test("ElasticConstantsCubic_diamond_C"),
                       Model.objects.get(kim_id=models.SIC_MEAM_WAGNER))
    assert isinstance(outcome, Error), f"recorded as a result: {outcome.instances}"
    assert outcome.category == Error.Category.NONZERO_EXIT
    assert "different energies for one configuration on repeated calls" in outcome.message, explain(outcome)
    assert "no elastic constant from this run" in outcome.message
    assert not TestResult.objects.filter(test__kim_id__startswith="ElasticConstantsCubic_diamond_C__",
                                         model__kim_id=models.SIC_MEAM_WAGNER).exists()


def test_lattice_result_stress_is_the_models_own_at_the_found_lattice_constant(examples):
    result = run(example_test("LatticeConstantCubicEnergy_fcc_Cu"), models.CU_MISHIN)
    (a,) = instance_values(result.instances, "structure-cubic-crystal-npt", "a")
    (stress,) = instance_values(result.instances, "structure-cubic-crystal-npt", "cauchy-stress")
    atoms = drivertools().crystal("Cu", "fcc", a)
    atoms.calc = KIM(models.CU_MISHIN)
    np.testing.assert_allclose(stress, atoms.get_stress() / GPa, rtol=1e-9, atol=1e-12)
    # At the energy minimum the stress is small, yet computed: not the zeros written before.
    assert max(map(abs, stress)) < 0.05 and any(s != 0.0 for s in stress)


@pytest.mark.parametrize(("driver", "species", "a"), [
    ("SurfaceEnergyIdealFCC", "Cu", 3.65),  # 1 % above the model's 3.615 Å: in tension
    ("ElasticConstantsCubic", "Cu", 3.58),  # 1 % below: in compression
])
def test_cauchy_stress_of_a_strained_crystal_is_computed(tmp_path, driver, species, a):
    status, stderr, instances = run_driver(driver, [species, "fcc", models.CU_MISHIN, a], tmp_path)
    assert status == 0, stderr[-3000:]
    atoms = drivertools().crystal(species, "fcc", a)
    atoms.calc = KIM(models.CU_MISHIN)
    expected = atoms.get_stress() / GPa
    assert abs(expected[0]) > 1.0, "the cell is well away from equilibrium"
    assert np.sign(expected[0]) == (1 if a > 3.615 else -1), "tension positive, as the property says"
    for instance in instances:
        stress = instance["cauchy-stress"]
        assert stress["source-unit"] == "GPa"
        np.testing.assert_allclose(stress["source-value"], expected, rtol=1e-9, atol=1e-12)


def test_elastic_constants_carry_an_error_estimate_and_the_excess(tmp_path):
    status, stderr, instances = run_driver(
        "ElasticConstantsCubic", ["Cu", "fcc", models.CU_MISHIN, 3.615], tmp_path)
    assert status == 0, stderr[-3000:]
    (instance,) = instances
    # Mishin et al. (2001), fitted to experiment: 169.9, 122.6, 76.2 GPa.
    for key, paper in (("c11", 169.9), ("c12", 122.6), ("c44", 76.2)):
        value = instance[key]["source-value"]
        uncertainty = instance[key]["source-std-uncert-value"]
        assert abs(value - paper) <= 0.01 * paper, (key, value)
        assert 0 < uncertainty < 0.005 * paper, (key, uncertainty)
    assert instance["excess"]["source-unit"] == "GPa"
    assert 0 <= instance["excess"]["source-value"] < 1e-3


class _AtomAloneGivesNaN:
    """A calculator whose isolated atom has no finite energy (a model with an undefined
    embedding at zero density does this); only the isolated-atom path is reached."""

    def get_potential_energy(self, atoms=None, force_consistent=False):
        return math.nan


def test_a_non_finite_isolated_atom_energy_is_an_error_not_zero():
    tools = drivertools()
    with pytest.raises(tools.DriverError, match="non-finite energy .* isolated Cu atom"):
        tools.isolated_atom_energy(_AtomAloneGivesNaN(), "Cu")


def test_a_finite_isolated_atom_energy_is_the_models():
    # Mishin's Cu EAM tabulates F(0) = -2.0e-7 eV: the model's value, kept as it is.
    energy = drivertools().isolated_atom_energy(KIM(models.CU_MISHIN), "Cu")
    assert energy == pytest.approx(-2.009e-7, rel=1e-3)
