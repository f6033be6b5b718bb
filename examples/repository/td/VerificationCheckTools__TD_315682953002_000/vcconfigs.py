"""What the example checks compute on: the model's species, ASE's KIM calculator, a bare kimpy
model in any units, and the seeded configurations (crystals, clusters, dimers).

Configurations are built with ASE's lattices and perturbed with kim_tools' helpers
(``randomize_positions``, ``randomize_species``), always with a fixed seed, so a check gives the
same configurations, and the same grade, every time.
"""

import math

import numpy as np

SEED = 13
# Nearest-neighbour distances scanned for the fcc minimum: a carbon bond to a loose rare gas.
NN_SCAN = np.geomspace(1.0, 6.0, 60)
NN_FACTOR = {"fcc": 1 / math.sqrt(2), "bcc": math.sqrt(3) / 2, "diamond": math.sqrt(3) / 4}


def portable_model_species(model: str) -> list:
    """The species the KIM API says the model supports (kim_tools' helper); a model that is not
    a portable model cannot be computed here (ASE would need the simulator)."""
    import kimpy
    from vcharness import NotApplicable, kim_tools_part

    collections = kimpy.collections.create()
    try:
        item_type = collections.get_item_type(model)
    except RuntimeError as exc:  # the pipeline only runs installed models: a fault, not N/A
        raise RuntimeError(f"the KIM API does not know {model}: {exc}") from exc
    if item_type != kimpy.collection_item_type.portableModel:
        raise NotApplicable(f"{model} is a {item_type}, not a portable model; "
                            "its simulator is not run by these checks")
    kim_model = BareModel(model).kim_model
    return sorted(kim_tools_part("vc").get_kim_model_supported_species_and_codes(None, kim_model))


def calculator(model: str, release_gil: bool = False):
    from ase.calculators.kim import KIM

    return KIM(model, options={"release_GIL": release_gil})


def energy_and_forces(atoms):
    energy = float(atoms.get_potential_energy())
    forces = np.array(atoms.get_forces(), dtype=float)
    if not (math.isfinite(energy) and np.isfinite(forces).all()):
        raise FloatingPointError(f"the model gives a non-finite energy or forces ({energy})")
    return energy, forces


def _fcc_energy(calc, species, nn):
    from ase.lattice.cubic import FaceCenteredCubic

    atoms = FaceCenteredCubic(species, size=(1, 1, 1), latticeconstant=nn * math.sqrt(2), pbc=True)
    atoms.calc = calc
    try:
        energy = atoms.get_potential_energy() / len(atoms)
    except Exception:  # the KIM API raises several kinds; all mean "no energy here"
        return math.inf
    return energy if math.isfinite(energy) else math.inf


def nearest_neighbour(calc, species: str) -> tuple:
    """(nn distance of the relaxed fcc crystal, note): the deepest scanned minimum refined by a
    bounded search; a species with no bound fcc minimum gets the scan's point nearest to 0 eV
    below the far energy, so its configurations still interact."""
    nn, note = _deepest_minimum(lambda nn: _fcc_energy(calc, species, nn), f"fcc {species}", "nn")
    return nn, note or f"fcc {species} relaxed: a = {nn * math.sqrt(2):.5f} Å"


def _deepest_minimum(energy_at, what: str, name: str) -> tuple:
    """(distance, note): the deepest minimum of ``energy_at`` over NN_SCAN refined by a bounded
    search; with no bound minimum, the scan's point nearest to 0.1 eV below the far energy."""
    from scipy.optimize import minimize_scalar

    energies = np.array([energy_at(r) for r in NN_SCAN])
    finite = np.isfinite(energies)
    if not finite.any():
        raise FloatingPointError(f"the model gives no finite {what} energy for any spacing")
    far = energies[finite][-1]
    minima = [i for i in range(1, len(NN_SCAN) - 1)
              if np.isfinite(energies[i - 1:i + 2]).all()
              and energies[i] < energies[i - 1] and energies[i] <= energies[i + 1] and energies[i] < far]
    if not minima:
        i = int(np.argmin(np.where(finite, np.abs(energies - far - 0.1), np.inf)))
        return float(NN_SCAN[i]), f"no bound {what} minimum; {name} = {NN_SCAN[i]:.3f} Å used"
    best = min(minima, key=lambda i: energies[i])
    found = minimize_scalar(energy_at, bounds=(NN_SCAN[best - 1], NN_SCAN[best + 1]),
                            method="bounded", options={"xatol": 1e-5})
    return float(found.x), None


def dimer_spacings(model, species: list) -> tuple:
    """({species: bond length of its dimer}, notes on those with no bound dimer) through a
    BareModel: the spacing of free
    clusters. Two atoms and no periodic images: about 0.1 s a species where the relaxed fcc
    crystal (``nearest_neighbours``) costs seconds with a long cutoff, which for a model of
    139 species (LJ_ElliottAkerson_2015_Universal) was more than the run's time limit."""
    spacing, notes = {}, []

    def energy(symbol, r):
        try:
            value, _ = model.compute([symbol, symbol], np.array([[0.0, 0.0, 0.0], [r, 0.0, 0.0]]))
        except Exception:  # the KIM API refused the configuration
            return math.inf
        return float(value) if math.isfinite(value) else math.inf

    for symbol in species:
        spacing[symbol], note = _deepest_minimum(lambda r, s=symbol: energy(s, r), f"{symbol} dimer", "r")
        notes += [note] if note else []
    return spacing, notes


def nearest_neighbours(calc, species: list) -> tuple:
    """{species: nn}, their mean (the mixed configurations' spacing) and the notes."""
    found = {s: nearest_neighbour(calc, s) for s in species}
    spacing = {s: nn for s, (nn, _) in found.items()}
    return spacing, float(np.mean(list(spacing.values()))), [note for _, note in found.values()]


def crystal(structure: str, nn: float, size=(2, 2, 2), pbc=False):
    from ase.lattice.cubic import BodyCenteredCubic, Diamond, FaceCenteredCubic

    build = {"fcc": FaceCenteredCubic, "bcc": BodyCenteredCubic, "diamond": Diamond}[structure]
    return build("H", size=size, latticeconstant=nn / NN_FACTOR[structure], pbc=pbc)


def perturbed(atoms, species: list, amplitude: float, seed: int = SEED):
    """Species spread over the sites and positions displaced, both seeded (kim_tools' helpers)."""
    from vcharness import kim_tools_part

    ase_tools = kim_tools_part("ase")
    ase_tools.randomize_species(atoms, species, seed=seed)
    ase_tools.randomize_positions(atoms, amplitude, seed=seed)
    return atoms


def random_cluster(species: list, count: int, nn: float, rng) -> tuple:
    """(symbols, positions) of `count` atoms, each 0.85–1.25 nn from an earlier one and no
    closer than 0.8 nn to any: a compact cluster whose atoms all interact."""
    symbols = list(species) + [species[i] for i in rng.integers(len(species), size=count - len(species))]
    symbols = [symbols[i] for i in rng.permutation(count)]
    positions = [np.zeros(3)]
    while len(positions) < count:
        direction = rng.normal(size=3)
        candidate = (positions[rng.integers(len(positions))]
                     + direction / np.linalg.norm(direction) * nn * rng.uniform(0.85, 1.25))
        if min(np.linalg.norm(candidate - p) for p in positions) >= 0.8 * nn:
            positions.append(candidate)
    return symbols, np.array(positions)


def atoms_of(symbols, positions, pbc=False, cell=None):
    from ase import Atoms

    return Atoms(symbols, positions=positions, pbc=pbc, cell=cell)


def write_configuration(vc, name: str, atoms) -> str:
    """The configuration as extended XYZ in output/ (kim_tools' writer); its file name."""
    file_name = f"{name}.xyz"
    atoms = atoms.copy()  # without the calculator, whose last results may be another cell's
    vc.write_aux_ase_atoms(file_name, atoms, "extxyz")
    return file_name


def rss_bytes() -> int:
    """Resident memory of this process now."""
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * 4096


class BareModel:
    """A KIM API model object of its own through kimpy, in the units asked for, computing the
    energy and forces of non-periodic configurations (no ASE between the check and the model)."""

    def __init__(self, model: str, length="A", energy="eV", release_gil=False):
        import kimpy

        self.kimpy = kimpy
        self.release_gil = release_gil
        self.units_accepted, self.kim_model = kimpy.model.create(
            kimpy.numbering.zeroBased, getattr(kimpy.length_unit, length),
            getattr(kimpy.energy_unit, energy), kimpy.charge_unit.e, kimpy.temperature_unit.K,
            kimpy.time_unit.ps, model)
        self.compute_arguments = None
        self._codes_of = {}

    @property
    def influence_distance(self) -> float:
        return float(self.kim_model.get_influence_distance())

    def species_code(self, symbol: str) -> int:
        if symbol in self._codes_of:
            return self._codes_of[symbol]
        supported, code = self.kim_model.get_species_support_and_code(
            self.kimpy.species_name.SpeciesName(symbol))
        if not supported:
            raise ValueError(f"the model does not support {symbol}")
        self._codes_of[symbol] = code
        return code

    def compute(self, symbols, positions) -> tuple:
        """(energy, forces) of the non-periodic configuration, in the model object's units."""
        kimpy = self.kimpy
        if self.compute_arguments is None:
            self.compute_arguments = self.kim_model.compute_arguments_create()
        arguments, names = self.compute_arguments, kimpy.compute_argument_name
        count = len(symbols)
        # The arrays must outlive the compute: the KIM API keeps their addresses.
        self._count = np.array([count], dtype=np.intc)
        self._codes = np.array([self.species_code(s) for s in symbols], dtype=np.intc)
        self._contributing = np.ones(count, dtype=np.intc)
        self._coordinates = np.ascontiguousarray(positions, dtype=np.double)
        self._energy = np.array([0.0], dtype=np.double)
        self._forces = np.zeros((count, 3), dtype=np.double)
        arguments.set_argument_pointer(names.numberOfParticles, self._count)
        arguments.set_argument_pointer(names.particleSpeciesCodes, self._codes)
        arguments.set_argument_pointer(names.particleContributing, self._contributing)
        arguments.set_argument_pointer(names.coordinates, self._coordinates)
        arguments.set_argument_pointer(names.partialEnergy, self._energy)
        arguments.set_argument_pointer(names.partialForces, self._forces)
        cutoffs, _hints = self.kim_model.get_neighbor_list_cutoffs_and_hints()
        self._neighbours = kimpy.neighlist.NeighList()
        self._neighbours.build(self._coordinates, self.influence_distance,
                               np.asarray(cutoffs, dtype=np.double), self._contributing)
        arguments.set_callback_pointer(kimpy.compute_callback_name.GetNeighborList,
                                       kimpy.neighlist.get_neigh_kim(), self._neighbours)
        self.kim_model.compute(arguments, self.release_gil)
        return float(self._energy[0]), self._forces.copy()

    def close(self):
        """Drop the KIM API objects: kimpy destroys them (compute arguments, then the model)
        when their last reference goes."""
        self.compute_arguments = None
        self._neighbours = None
        self.kim_model = None


def invariance_figure(vc, model, name, atoms, moved_symbols, moved_positions, expected_forces,
                      tolerance=1e-8):
    """A figure comparing a configuration with its transformed copy: the energy must not change
    and the forces must be ``expected_forces(forces)`` (both relative, to ``tolerance``)."""
    from vcharness import FAIL, PASS, Figure, relative

    energy, forces = model.compute(atoms.get_chemical_symbols(), atoms.get_positions())
    moved_energy, moved_forces = model.compute(moved_symbols, moved_positions)
    energy_error = relative(moved_energy - energy, energy)
    force_error = relative(np.abs(moved_forces - expected_forces(forces)).max(), np.abs(forces).max())
    grade = PASS if energy_error <= tolerance and force_error <= tolerance else FAIL
    comment = (f"{len(atoms)} atoms; E = {energy:.12g} eV, transformed {moved_energy:.12g} eV: "
               f"relative energy difference {energy_error:.3e}, relative force difference "
               f"{force_error:.3e} (tolerance {tolerance:g}; max|F| = {np.abs(forces).max():.4g} eV/Å)")
    return Figure(name, grade, comment, [write_configuration(vc, name, atoms)])
