"""ElasticConstantsCubic's refusals, reached with calculators made for each edge case.

No installed model is known to fail a relaxation or give a large error estimate while being
reproducible (the SiC MEAM model fails earlier, on reproducibility: test_honest_drivers), so
these drive the driver's own functions (its elastic.py, imported the way its runner imports it)
with ASE calculators that have exactly the defect.
"""

import sys

import numpy as np
import pytest
from ase.calculators.calculator import Calculator, all_changes
from ase.units import GPa

from tests.conftest import EXAMPLES_DIR

(TOOLS,) = (EXAMPLES_DIR / "td").glob("ExampleDriverTools__TD_*")
(DRIVER,) = (EXAMPLES_DIR / "td").glob("ElasticConstantsCubic__TD_*")
A = 3.567  # diamond C: the driver builds the cell itself


@pytest.fixture(scope="module")
def elastic():
    sys.path[:0] = [str(TOOLS), str(DRIVER)]
    try:
        import elastic
    finally:
        del sys.path[:2]
    return elastic


class Made(Calculator):
    """Energy, forces and stress of a cell as `answer(atoms, calls)` says."""

    implemented_properties = ["energy", "forces", "stress"]

    def __init__(self, answer):
        super().__init__()
        self.answer, self.calls = answer, 0

    def calculate(self, atoms=None, properties=("energy",), system_changes=all_changes):
        super().calculate(atoms, properties, system_changes)
        self.calls += 1
        energy, forces, stress = self.answer(self.atoms, self.calls)
        self.results = {"energy": energy, "free_energy": energy, "forces": forces, "stress": stress}


def strain_of(atoms):
    from ase.build import bulk

    reference = bulk("C", "diamond", a=A, cubic=True).cell[:]
    eps = np.linalg.solve(reference, atoms.cell[:]) - np.eye(3)
    eps = (eps + eps.T) / 2
    return np.array([eps[0, 0], eps[1, 1], eps[2, 2], 2 * eps[1, 2], 2 * eps[0, 2], 2 * eps[0, 1]])


CUBIC = np.zeros((6, 6))
CUBIC[:3, :3] = 100.0
CUBIC[range(3), range(3)] = 300.0
CUBIC[range(3, 6), range(3, 6)] = 150.0


def harmonic(kink=0.0):
    """σ = C ε (+ kink · ε|ε|, which makes the central difference change linearly with h)."""
    def answer(atoms, _calls):
        e = strain_of(atoms)
        stress_gpa = CUBIC @ e + kink * e * np.abs(e)
        return 0.0, np.zeros((len(atoms), 3)), stress_gpa * GPa
    return answer


def test_a_harmonic_crystal_gives_its_constants_with_small_error_and_no_excess(elastic):
    (c11, c12, c44), errors, excess = elastic.elastic_constants(Made(harmonic()), "C", "diamond", A)
    assert (c11, c12, c44) == pytest.approx((300.0, 100.0, 150.0), rel=1e-6)
    assert max(errors) < 1e-6 and excess < 1e-6


def test_an_error_estimate_that_is_not_small_ends_the_run(elastic):
    # C(h) = C + kink·h: 1e6 GPa·h = 500 GPa at h = 0.05 %, far above 3 % of 300 GPa.
    with pytest.raises(elastic.dt.DriverError, match="the error estimate is not small"):
        elastic.elastic_constants(Made(harmonic(kink=1e6)), "C", "diamond", A)


def test_a_stiffness_that_is_not_cubic_ends_the_run(elastic):
    def answer(atoms, calls):
        energy, forces, stress = harmonic()(atoms, calls)
        e = strain_of(atoms)
        return energy, forces, stress + 40.0 * e[0] * np.eye(6)[5] * GPa  # C61 = 40 GPa, C16 = 0
    with pytest.raises(elastic.dt.DriverError, match="the stiffness is not cubic: excess = 40"):
        elastic.elastic_constants(Made(answer), "C", "diamond", A)


def test_a_relaxation_that_does_not_converge_ends_the_run(elastic):
    def falling(atoms, _calls):
        # A well that deepens without end along x for atom 0 (E = -x^4/4 past its start):
        # the force grows as the atom moves, so no number of steps brings it below FMAX.
        x = atoms.positions[0, 0] + 0.1
        forces = np.zeros((len(atoms), 3))
        forces[0, 0] = x**3
        return -(x**4) / 4, forces, np.zeros(6)
    with pytest.raises(elastic.dt.DriverError, match="internal relaxation .* did not converge"):
        elastic.relaxed(Made(falling), "C", "diamond", A, elastic.voigt_strain(3, 1e-3))


@pytest.mark.filterwarnings("ignore:invalid value encountered in divide:RuntimeWarning")  # BFGS's own
def test_a_relaxation_that_breaks_down_ends_the_run(elastic):
    def pushed(atoms, _calls):
        forces = np.zeros((len(atoms), 3))
        forces[0, 0] = 1.0  # a constant push: BFGS's Hessian update divides by zero
        return -atoms.positions[0, 0], forces, np.zeros(6)
    with pytest.raises(elastic.dt.DriverError, match="internal relaxation .* broke down"):
        elastic.relaxed(Made(pushed), "C", "diamond", A, elastic.voigt_strain(3, 1e-3))


def test_a_model_with_state_between_calls_ends_the_run(elastic):
    def drifting(atoms, calls):
        return -4e-4 * calls, np.zeros((len(atoms), 3)), np.zeros(6)
    with pytest.raises(elastic.dt.DriverError, match="different energies for one configuration"):
        elastic.check_reproducible(Made(drifting), "C", "diamond", A)
