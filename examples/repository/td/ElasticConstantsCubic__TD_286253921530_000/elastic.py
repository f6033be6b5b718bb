"""The elastic-constants computation of ElasticConstantsCubic (see its runner's docstring):
strained cells with relaxed atoms, the stiffness by central differences at two magnitudes, the
cubic averages, the error estimate and excess, and the checks that end a run that cannot be
honest. Imported by the runner from its own folder; no side effects on import, so the suite can
reach its refusals directly.
"""

import math

import drivertools as dt
import numpy as np
from ase.optimize import BFGS

# h, and 2h = 0.1 %: small, because the tabulated models' splines make C(h) change linearly with
# h (EAM_MagneticCubic_DerletNguyenDudarev_2007_W: C11 = 527, 532, 547, 572 GPa at h = 0.05,
# 0.1, 0.25, 0.5 %), and large against the stress noise of relaxed cells (1e-9 GPa).
STEP = 0.0005
FMAX = 1e-5  # eV/Å: the residual stress of the relaxed cell is then far below the strain's
RELAX_STEPS = 500
# Error estimate and excess must stay below this share of the largest constant (and 0.05 GPa
# absolute, for very soft crystals): smooth models give 1e-4 of it or less, the spline models
# about a third (Derlet W: 5 GPa of 527), a model with state between calls far more.
RELATIVE_TOLERANCE = 0.03
ABSOLUTE_TOLERANCE = 0.05  # GPa
# (i, j) of the engineering shear strains 4, 5, 6 (yz, xz, xy) of Voigt notation.
SHEAR = {3: (1, 2), 4: (0, 2), 5: (0, 1)}


def voigt_strain(j, d):
    """Symmetric strain tensor of Voigt component j with value d (engineering for shears)."""
    eps = np.zeros((3, 3))
    if j < 3:
        eps[j, j] = d
    else:
        p, q = SHEAR[j]
        eps[p, q] = eps[q, p] = d / 2
    return eps


def relaxed(calc, species, structure, a, eps):
    """The crystal under strain eps with its atoms relaxed; DriverError when they do not settle."""
    atoms = dt.crystal(species, structure, a)
    start = atoms.positions @ (np.eye(3) + eps)
    atoms.set_cell(atoms.cell[:] @ (np.eye(3) + eps), scale_atoms=True)
    atoms.calc = calc
    if np.abs(atoms.get_forces()).max() > FMAX:
        optimizer = BFGS(atoms, logfile=None)
        try:
            converged = optimizer.run(fmax=FMAX, steps=RELAX_STEPS)
            failure = "did not converge"
        except (np.linalg.LinAlgError, ValueError, FloatingPointError) as exc:
            # BFGS's Hessian update breaks on forces that do not come from an energy (or that
            # do not change as the atoms move): the relaxation failed as surely as by steps.
            converged, failure = False, f"broke down ({exc.__class__.__name__}: {exc})"
        if not converged:
            force = float(np.linalg.norm(atoms.get_forces(), axis=1).max())
            moved = float(np.linalg.norm(atoms.positions - start, axis=1).max())
            raise dt.DriverError(
                f"the internal relaxation under strain {np.round(eps, 6).tolist()} {failure}: "
                f"after {optimizer.nsteps} BFGS steps the largest force is {force:.3g} eV/Å "
                f"(wanted {FMAX}), an atom moved {moved:.3g} Å and the energy went to "
                f"{atoms.get_potential_energy():.6g} eV; no elastic constant from this run")
    return atoms


def check_reproducible(calc, species, structure, a):
    """The same configuration, computed three times with the one model object, must give one
    energy; a model that keeps state between calls (MEAM_LAMMPS_Wagner_2007_SiC_..._000 drifts
    by about -4e-4 eV a call for a slightly displaced diamond cell) makes relaxation run away."""
    atoms = dt.crystal(species, structure, a)
    atoms.set_cell(atoms.cell[:] @ (np.eye(3) + voigt_strain(3, 2 * STEP)), scale_atoms=True)
    atoms.positions[0] += 0.01  # off any symmetric position, where a drift could cancel
    other = dt.crystal(species, structure, a)
    energies = []
    for _ in range(3):
        # Another configuration between the probes: ASE's calculator answers a repeated
        # configuration from its cache, without calling the model.
        for probe in (other.copy(), atoms.copy()):
            probe.calc = calc
            energy = float(probe.get_potential_energy())
        energies.append(energy)
    spread = max(energies) - min(energies)
    if not (math.isfinite(spread) and spread <= 1e-9 * max(1.0, abs(energies[0]))):
        raise dt.DriverError(
            "the model gives different energies for one configuration on repeated calls "
            f"({', '.join(f'{e:.10g}' for e in energies)} eV): it keeps state between calls, so "
            "the internal relaxation and the finite differences would measure its drift; no "
            "elastic constant from this run")


def stiffness(calc, species, structure, a, h):
    """6x6 C_ij = dσ_i/dε_j in GPa by central differences at strain magnitude h."""
    columns = []
    for j in range(6):
        plus = dt.cauchy_stress(relaxed(calc, species, structure, a, voigt_strain(j, h)))
        minus = dt.cauchy_stress(relaxed(calc, species, structure, a, voigt_strain(j, -h)))
        columns.append((np.array(plus) - np.array(minus)) / (2 * h))
    return np.array(columns).T


def cubic_part(c):
    """(C11, C12, C44) averaged over the entries cubic symmetry makes equal, and that matrix."""
    c11 = float(np.mean([c[i, i] for i in range(3)]))
    c12 = float(np.mean([c[i, j] for i in range(3) for j in range(3) if i != j]))
    c44 = float(np.mean([c[i, i] for i in range(3, 6)]))
    cubic = np.zeros((6, 6))
    cubic[:3, :3] = c12
    cubic[range(3), range(3)] = c11
    cubic[range(3, 6), range(3, 6)] = c44
    return (c11, c12, c44), cubic


def elastic_constants(calc, species, structure, a):
    """((C11, C12, C44), their error estimates, excess), all in GPa; DriverError when not small."""
    check_reproducible(calc, species, structure, a)
    fine, coarse = stiffness(calc, species, structure, a, STEP), stiffness(calc, species, structure, a, 2 * STEP)
    extrapolated = (4 * fine - coarse) / 3
    constants, cubic = cubic_part(extrapolated)
    errors = tuple(abs(f - c) for f, c in zip(cubic_part(fine)[0], cubic_part(coarse)[0], strict=True))
    excess = float(np.sqrt(((extrapolated - cubic) ** 2).sum()))
    tolerance = max(RELATIVE_TOLERANCE * max(map(abs, constants)), ABSOLUTE_TOLERANCE)
    names = ("C11", "C12", "C44")
    text = ", ".join(f"{n} = {v:.6g} ± {e:.2g}" for n, v, e in zip(names, constants, errors, strict=True))
    if not max(errors) <= tolerance:
        raise dt.DriverError(
            f"the error estimate is not small: {text} GPa (|C(h) - C(2h)| at h = {STEP} and "
            f"{2 * STEP}; allowed {tolerance:.3g} GPa); no elastic constant from this run")
    if not excess <= tolerance:
        raise dt.DriverError(
            f"the stiffness is not cubic: excess = {excess:.6g} GPa (allowed {tolerance:.3g}) with "
            f"{text} GPa; no elastic constant from this run")
    return constants, errors, excess
