"""What the example drivers and the check share: the stdout guard, input lines, results writing,
the cubic crystal's keys, the Cauchy stress, the isolated atom and the lattice-constant scan.

This folder is an item of its own (a test driver with no executable) so that it is imported
and stored next to the drivers; each program finds it with the three lines below, which work
from the stored repository (the pipeline runs `path(driver)/runner`) and from a checkout:

    here = Path(__file__).resolve().parent
    sys.path[:0] = [str(p) for p in sorted((here.parent.parent / "td").glob("ExampleDriverTools__TD_*"))[-1:]]
    import drivertools

Only numpy and the standard library are imported here at module level: guard_stdout() must
run before the KIM API is loaded, and the check does not need ASE.
"""

import math
import os
import signal
import sys

import numpy as np

# eV/Å³ in GPa (ase.units.GPa is its inverse); written out so this module needs no ASE.
EV_PER_A3_IN_GPA = 160.21766208
NN_FACTOR = {"fcc": 1 / math.sqrt(2), "bcc": math.sqrt(3) / 2, "sc": 1.0, "diamond": math.sqrt(3) / 4}
SPACE_GROUP = {"fcc": "Fm-3m", "bcc": "Im-3m", "sc": "Pm-3m", "diamond": "Fd-3m"}
# Wide enough for a carbon bond (1.5 Å) and a loosely bound rare gas (3.8 Å), and for models
# whose minimum is far from experiment.
NN_MIN, NN_MAX, NN_POINTS = 0.9, 7.0, 90


class DriverError(SystemExit):
    """A run that cannot give an honest result: exit status 1 with `message` on stderr, which
    the pipeline records as an Error (SystemExit with a text does exactly that)."""


def guard_stdout():
    """Some models print on the C-level stdout; send fd 1 to stderr for the whole run and keep
    Python's sys.stdout on the original stream, so stdout carries only what the program says
    (the 2012 pipeline reads the last line of stdout)."""
    sys.stdout.flush()
    saved = os.dup(1)
    os.dup2(2, 1)
    sys.stdout = os.fdopen(saved, "w", buffering=1)


def read_input(names, optional=()):
    """The non-empty stdin lines as a dict: `names` required, `optional` None when absent."""
    lines = [line.strip() for line in sys.stdin if line.strip()]
    if len(lines) < len(names):
        raise DriverError(f"expected {', '.join(names)} on stdin, one a line; got {len(lines)} lines")
    found = dict(zip(names, lines, strict=False))  # extra lines are the optional ones
    for i, name in enumerate(optional, start=len(names)):
        found[name] = lines[i] if i < len(lines) else None
    return found


def positive_length(text, what="lattice constant"):
    try:
        value = float(text)
    except (TypeError, ValueError):
        value = math.nan
    if not (math.isfinite(value) and value > 0):
        raise DriverError(f"{what} must be a positive number of angstrom, got {text!r}")
    return value


def known_structure(structure, allowed=NN_FACTOR):
    if structure not in allowed:
        raise DriverError(f"unknown structure {structure!r}; one of {sorted(allowed)}")
    return structure


def crystal(species, structure, a):
    from ase.build import bulk

    return bulk(species, structure, a=a, cubic=True)


def cauchy_stress(atoms):
    """[xx, yy, zz, yz, xz, xy] in GPa, tension positive: ASE's Voigt order and sign are the
    property's (cauchy-stress of the cubic-crystal properties)."""
    stress = np.asarray(atoms.get_stress(voigt=True), dtype=float) * EV_PER_A3_IN_GPA
    if not np.isfinite(stress).all():
        raise DriverError(f"the model gives a non-finite stress: {stress.tolist()} GPa")
    return [float(s) for s in stress]


def crystal_keys(atoms, structure, a, stress=None):
    """kim_property_modify arguments of the cubic-crystal keys (and cauchy-stress if given)."""
    args = [
        "key", "short-name", "source-value", "1", structure,
        "key", "species", "source-value", f"1:{len(atoms)}", *atoms.get_chemical_symbols(),
        "key", "a", "source-value", a, "source-unit", "angstrom",
        "key", "space-group", "source-value", SPACE_GROUP[structure],
    ]
    for i, row in enumerate(atoms.get_scaled_positions(wrap=True), start=1):
        args += ["key", "basis-atom-coordinates", "source-value", str(i), "1:3", *map(float, row)]
    if stress is not None:
        args += ["key", "cauchy-stress", "source-value", "1:6", *stress, "source-unit", "GPa"]
    return args


def write_results(instances):
    """Check against kim-property's definitions, then write output/results.edn as a list.

    (kim_property_dump would write a lone instance as a bare map; the pipeline reads a list.)
    """
    import kim_edn
    from kim_property import check_property_instances, get_properties

    check_property_instances(instances, fp_path=get_properties())
    os.makedirs("output", exist_ok=True)
    with open("output/results.edn", "w") as results:
        kim_edn.dump(kim_edn.loads(instances), results, indent=2)
        results.write("\n")


def isolated_atom_energy(calc, species):
    """Energy of one atom alone; not zero for every model (e.g. SNAP's constant term). A model
    that gives no finite energy for it has no cohesive energy: that is an error, not 0."""
    from ase import Atoms

    atom = Atoms(species, positions=[[10.0, 10.0, 10.0]], cell=[20.0, 20.0, 20.0], pbc=False)
    atom.calc = calc
    energy = float(atom.get_potential_energy())
    if not math.isfinite(energy):
        raise DriverError(f"the model gives a non-finite energy ({energy}) for an isolated {species} "
                          "atom, so the cohesive energy is undefined")
    return energy


def energy_per_atom(calc, species, structure, a):
    """Potential energy per atom; +inf where the model refuses the configuration."""
    atoms = crystal(species, structure, a)
    atoms.calc = calc
    try:
        energy = atoms.get_potential_energy() / len(atoms)
    except Exception as exc:  # the KIM API raises several kinds; all mean "no energy here"
        print(f"a = {a:.4f}: model refused ({exc.__class__.__name__}: {exc})", file=sys.stderr)
        return math.inf
    return energy if math.isfinite(energy) else math.inf


def scan_energies(calc, species, structure, grid):
    """energy_per_atom at every grid point, computed in forked children the model may kill.

    Some models abort the process instead of raising (the EMT_Asap models fail an assertion,
    SIGABRT, at fcc Cu nearest-neighbour distances below about 1 Å). A child evaluates the
    points in order and writes "index energy" lines to a pipe. If it dies (a signal, or a
    non-zero exit from the model's C code) the first point it did not report is where it died:
    +inf, reported on stderr, and a new child takes the points after it. Normally one fork.
    """
    if not hasattr(os, "fork"):
        return np.array([energy_per_atom(calc, species, structure, a) for a in grid])
    energies = np.full(len(grid), math.inf)
    start = 0
    while start < len(grid):
        sys.stdout.flush()
        sys.stderr.flush()
        read_end, write_end = os.pipe()
        pid = os.fork()
        if pid == 0:  # child: never returns, never runs the parent's exit handlers
            status = 1
            try:
                os.close(read_end)
                with os.fdopen(write_end, "w", buffering=1) as pipe:
                    for i in range(start, len(grid)):
                        energy = float(energy_per_atom(calc, species, structure, grid[i]))
                        pipe.write(f"{i} {energy!r}\n")
                status = 0
            finally:
                sys.stderr.flush()
                os._exit(status)
        os.close(write_end)
        reported = start
        with os.fdopen(read_end) as pipe:
            for line in pipe:
                i, energy = line.split()
                energies[int(i)] = float(energy)
                reported = int(i) + 1
        _, status = os.waitpid(pid, 0)
        if reported == len(grid) and os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0:
            break
        if reported < len(grid):
            if os.WIFSIGNALED(status):
                how = f"killed by {signal.Signals(os.WTERMSIG(status)).name}"
            else:
                how = f"exit status {os.WEXITSTATUS(status)}"
            print(f"a = {grid[reported]:.4f}: model killed the process ({how}); counted as +inf",
                  file=sys.stderr)
        start = reported + 1
    return energies


def local_minima(grid, energies):
    """Indices of scanned points lower than both neighbours and below the far-apart energy.

    A point beside a refused spacing is no minimum: tabulated models can give very low
    energies at the edge of their range (Mishin's 1999 Ni EAM: -9.6 eV/atom at fcc a = 2.57 Å,
    next to spacings it refuses).
    """
    far = energies[-1]
    return [
        i for i in range(1, len(grid) - 1)
        if np.isfinite(energies[i - 1 : i + 2]).all()
        and energies[i] < energies[i - 1]
        and energies[i] <= energies[i + 1]
        and energies[i] < far
    ]


def find_lattice_constant(calc, species, structure, hint=None):
    """(a, energy per atom) at the scanned minimum nearest the hint (the deepest without one),
    refined with a bounded Brent search.

    When a model has several minima the deepest is not always the crystal meant; a hint (the
    experimental a) picks the one nearest it, while the wide scan still finds a model's minimum
    however far from the hint it sits.
    """
    from scipy.optimize import minimize_scalar

    grid = np.geomspace(NN_MIN, NN_MAX, NN_POINTS) / NN_FACTOR[structure]
    energies = scan_energies(calc, species, structure, grid)
    if not np.isfinite(energies).any():
        raise DriverError(f"the model gives no finite energy for {species} {structure} at any spacing")
    minima = local_minima(grid, energies)
    if not minima:
        raise DriverError(f"no bound minimum for {species} {structure} between a = {grid[0]:.3f} "
                          f"and {grid[-1]:.3f} Å")
    print("scanned minima: " + ", ".join(f"a = {grid[i]:.3f} Å, E = {energies[i]:.4f} eV"
                                         for i in minima), file=sys.stderr)
    if hint:
        best = min(minima, key=lambda i: abs(math.log(grid[i] / hint)))
    else:
        best = min(minima, key=lambda i: energies[i])
    res = minimize_scalar(
        lambda a: energy_per_atom(calc, species, structure, a),
        bounds=(grid[best - 1], grid[best + 1]),
        method="bounded",
        options={"xatol": 1e-7},
    )
    return float(res.x), float(res.fun)
