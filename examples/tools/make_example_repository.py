#!/usr/bin/env python3
"""Writes the generated items of examples/repository: Tests, driver kimspecs, PR, RD and VC metadata.

The drivers' and the check's `runner` programs are written by hand and never touched here.
Test numbers are derived from the test's name (a hash), so regenerating gives the same IDs.
Run from anywhere: python3 examples/tools/make_example_repository.py [OUTPUT_ROOT]
(OUTPUT_ROOT defaults to examples/repository; another root lets a test compare the two.)
"""

import hashlib
import json
import os
import stat
import sys
from pathlib import Path

import kim_edn

REPO = Path(__file__).resolve().parent.parent / "repository"

# (species, natural structure) — every pair has several models in Debian's openkim-models.
CRYSTALS = [
    ("Ar", "fcc"), ("Al", "fcc"), ("Cu", "fcc"), ("Ni", "fcc"), ("Ag", "fcc"), ("Au", "fcc"),
    ("Fe", "bcc"), ("W", "bcc"), ("Mo", "bcc"), ("Si", "diamond"), ("C", "diamond"),
]
JSON_2012_CRYSTALS = [("Ar", "fcc"), ("Al", "fcc"), ("Cu", "fcc"), ("Si", "diamond")]

TD_LATTICE = "LatticeConstantCubicEnergy__TD_475411767977_000"
TD_BULK = "BulkModulusCubic__TD_614317502294_000"
TD_ELASTIC = "ElasticConstantsCubic__TD_286253921530_000"
TD_SURFACE = "SurfaceEnergyIdealFCC__TD_809313227417_000"
TD_JSON_2012 = "LatticeConstantCubicJSON__TD_920418336572_000"
VC_SPECIES = "SpeciesSupportedAsStated__VC_382560912877_000"
# The module the drivers and the check share (drivertools.py, written by hand): an item of its
# own so that it is stored beside the drivers; its `runner` only says where the module is.
TD_TOOLS = "ExampleDriverTools__TD_818771893529_000"
# The modules the verification checks share (vcharness.py, vcconfigs.py, written by hand).
TD_CHECK_TOOLS = "VerificationCheckTools__TD_315682953002_000"

# property short name -> (PR item, full property id as kim-property ships it)
PROPERTIES = {
    "structure-cubic-crystal-npt": (
        "structure_cubic_crystal_npt__PR_110425337914_000",
        "tag:staff@noreply.openkim.org,2014-04-15:property/structure-cubic-crystal-npt",
    ),
    "cohesive-potential-energy-cubic-crystal": (
        "cohesive_potential_energy_cubic_crystal__PR_110425337915_000",
        "tag:staff@noreply.openkim.org,2014-04-15:property/cohesive-potential-energy-cubic-crystal",
    ),
    "bulk-modulus-isothermal-cubic-crystal-npt": (
        "bulk_modulus_isothermal_cubic_crystal_npt__PR_110425337916_000",
        "tag:staff@noreply.openkim.org,2014-04-15:property/bulk-modulus-isothermal-cubic-crystal-npt",
    ),
    "elastic-constants-isothermal-cubic-crystal-npt": (
        "elastic_constants_isothermal_cubic_crystal_npt__PR_110425337917_000",
        "tag:staff@noreply.openkim.org,2014-05-21:property/elastic-constants-isothermal-cubic-crystal-npt",
    ),
    "surface-energy-ideal-cubic-crystal": (
        "surface_energy_ideal_cubic_crystal__PR_110425337918_000",
        "tag:staff@noreply.openkim.org,2014-05-21:property/surface-energy-ideal-cubic-crystal",
    ),
    "verification-check": (
        "verification_check__PR_110425337919_000",
        "tag:tadmor@noreply.openkim.org,2017-02-01:property/verification-check",
    ),
}

KITTEL = (
    "C. Kittel, Introduction to Solid State Physics, 8th ed. (John Wiley & Sons, Hoboken NJ, "
    "2005): lattice constants from Chapter 1, Table 4 (room temperature; Ar at 4 K), "
    "cohesive energies from Chapter 3, Table 1 (at 0 K and 1 atm)."
)
# Kittel's values: lattice constant (angstrom), temperature it was measured at (K), cohesive
# energy (eV/atom).
EXPERIMENT = {
    "Ar": (5.26, 4.0, 0.080), "Al": (4.05, 293.15, 3.39), "Cu": (3.61, 293.15, 3.49),
    "Ni": (3.52, 293.15, 4.44), "Ag": (4.09, 293.15, 2.95), "Au": (4.08, 293.15, 3.81),
    "Fe": (2.87, 293.15, 4.28), "W": (3.16, 293.15, 8.90), "Mo": (3.15, 293.15, 6.82),
    "Si": (5.43, 293.15, 4.63), "C": (3.567, 293.15, 7.37),
}
SPACE_GROUP = {"fcc": "Fm-3m", "bcc": "Im-3m", "sc": "Pm-3m", "diamond": "Fd-3m"}
BASIS = {
    "fcc": [[0, 0, 0], [0, 0.5, 0.5], [0.5, 0, 0.5], [0.5, 0.5, 0]],
    "bcc": [[0, 0, 0], [0.5, 0.5, 0.5]],
    "diamond": [
        [0, 0, 0], [0.25, 0.25, 0.25], [0, 0.5, 0.5], [0.25, 0.75, 0.75],
        [0.5, 0, 0.5], [0.75, 0.25, 0.75], [0.5, 0.5, 0], [0.75, 0.75, 0.25],
    ],
}

RUNNER_2020 = """#!/bin/sh
# Runs this test's driver as OpenKIM's test runners do: the first line of the rendered input is
# path(...) of the driver, its executable, handed to a shell as the command; the rest of the
# input goes to the driver on stdin.
IFS= read -r driver || { echo "no driver command on stdin" >&2; exit 2; }
exec /bin/sh -c "$driver"
"""

RUNNER_2012 = """#!/bin/sh
# Runs this test's driver. The first line of the processed pipeline.in is @PATH[...] of the
# driver, its executable (named like its folder), handed to a shell as the command; the rest of
# stdin goes to the driver unchanged.
IFS= read -r driver || { echo "no driver command on stdin" >&2; exit 2; }
exec /bin/sh -c "$driver"
"""


def number(name: str) -> str:
    return f"{int(hashlib.sha256(name.encode()).hexdigest(), 16) % 10**12:012d}"


def kim_id(name: str, leader: str) -> str:
    return f"{name}__{leader}_{number(name + leader)}_000"


def short(extended_id: str) -> str:
    """TE_############ of an extended ID: the form dependencies use (no name, no version)."""
    return extended_id.split("__", 1)[1][:15]


def write(path: Path, text: str, executable: bool = False) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    if executable:
        path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)


def edn(data) -> str:
    return kim_edn.dumps(data, indent=2) + "\n"


def test_kimspec(extended_id, title, description, species, driver):
    return edn({
        "extended-id": extended_id,
        "title": title,
        "description": description,
        "species": [species],
        "test-driver": driver,
        "kim-api-version": "2.3",
        "matching-models": ["standard-models"],
        "domain": "openkim.org",
        "executables": ["runner"],
    })


def write_2020_test(extended_id, kimspec, template, dependencies=None):
    folder = REPO / "te" / extended_id
    write(folder / "kimspec.edn", kimspec)
    write(folder / "runner", RUNNER_2020, executable=True)
    write(folder / "pipeline.stdin.tpl", template)
    if dependencies:
        write(folder / "dependencies.edn", edn(dependencies))


def lattice_test_id(species, structure):
    return kim_id(f"LatticeConstantCubicEnergy_{structure}_{species}", "TE")


def write_tests():
    for species, structure in CRYSTALS:
        lattice = lattice_test_id(species, structure)
        write_2020_test(
            lattice,
            test_kimspec(
                lattice,
                f"Equilibrium lattice constant and cohesive energy of {structure} {species}",
                f"Zero-temperature, zero-pressure lattice constant and cohesive energy of {species} "
                f"in the {structure} structure, found by a wide scan and a bounded Brent search.",
                species, TD_LATTICE,
            ),
            f'@< path("{TD_LATTICE}") >@\n{species}\n{structure}\n@< MODELNAME >@\n'
            f"@# a guess: the experimental lattice constant (Kittel 2005) #@\n"
            f"{EXPERIMENT[species][0]}\n",
        )
        upstream = (
            f'@< get_test_result(["{short(lattice)}"], [MODELNAME], '
            f'["structure-cubic-crystal-npt"], ["a"], ["angstrom"])[0][0] >@'
        )
        dependent = [
            (TD_BULK, "BulkModulusCubic", "Isothermal bulk modulus",
             "from a Birch-Murnaghan fit of energy against volume within +/-3 % of the equilibrium volume"),
            (TD_ELASTIC, "ElasticConstantsCubic", "Cubic elastic constants C11, C12, C44",
             "from stress-strain central differences at two strain magnitudes with internal relaxation"),
        ]
        if structure == "fcc":
            dependent.append((
                TD_SURFACE, "SurfaceEnergyIdealFCC", "Ideal (100) and (111) surface energies",
                "of unrelaxed 12-layer slabs cleaved from the crystal at its equilibrium lattice constant",
            ))
        for driver, stem, what, how in dependent:
            test = kim_id(f"{stem}_{structure}_{species}", "TE")
            write_2020_test(
                test,
                test_kimspec(
                    test, f"{what} of {structure} {species} at zero temperature",
                    f"{what} of {structure} {species} at 0 K, {how}; the lattice constant comes "
                    f"from {lattice}.",
                    species, driver,
                ),
                f'@< path("{driver}") >@\n{species}\n{structure}\n@< MODELNAME >@\n{upstream}\n',
                dependencies=[short(lattice)],
            )

    lattice_pr = PROPERTIES["structure-cubic-crystal-npt"][0]
    cohesive_pr = PROPERTIES["cohesive-potential-energy-cubic-crystal"][0]
    for species, structure in JSON_2012_CRYSTALS:
        test = kim_id(f"LatticeConstantCubicJSON_{structure}_{species}", "TE")
        folder = REPO / "te" / test
        write(folder / "metadata.json", json.dumps({
            "kim_code": test,
            "title": f"Lattice constant and cohesive energy of {structure} {species} (2012 format)",
            "description": f"Runs {TD_JSON_2012} for {species} in the {structure} structure.",
            "test_drivers": [TD_JSON_2012],
            "species": [species],
            "disclaimer": "Zero temperature and pressure.",
            "license": "CDDL-1.0",
            "uploaded_by": "kimsite examples",
            "created_at": "2026-11-28",
            "updated_at": "2026-11-28",
        }, indent=2) + "\n")
        write(folder / test, RUNNER_2012, executable=True)
        write(folder / "pipeline.in", (
            f"@PATH[{TD_JSON_2012}]\n{species}\n{structure}\n@MODELNAME\n{EXPERIMENT[species][0]}\n"
        ))
        write(folder / "pipeline.out", (
            f"lattice_constant : {lattice_pr.split('__')[1]}\n"
            f"cohesive_energy : {cohesive_pr.split('__')[1]}\n"
        ))


def write_drivers():
    drivers = [
        (TD_LATTICE, "Equilibrium lattice constant and cohesive energy of a cubic crystal",
         "Scans the nearest-neighbour distance from 0.9 to 7 angstrom (configurations a model "
         "refuses count as +inf, and so do those at which it kills the process: the scan runs "
         "in forked children), refines the lowest energy with a bounded Brent search and writes "
         "structure-cubic-crystal-npt and cohesive-potential-energy-cubic-crystal. The cohesive "
         "energy is the isolated-atom energy minus the crystal energy per atom. Input: species, "
         "structure (fcc, bcc, sc, diamond), model."),
        (TD_BULK, "Isothermal bulk modulus of a cubic crystal at zero temperature",
         "Birch-Murnaghan fit of 11 energies within +/-1 % of a given lattice constant; writes "
         "bulk-modulus-isothermal-cubic-crystal-npt. Input: species, structure, model, a."),
        (TD_ELASTIC, "Elastic constants C11, C12, C44 of a cubic crystal at zero temperature",
         "The 6x6 stiffness from central differences of the stress under each of the six Voigt "
         "strains, atoms relaxed inside each strained cell, at two strain magnitudes "
         "(Richardson extrapolation; their difference is the error estimate); C11, C12, C44 "
         "are the cubic averages and excess the deviation from cubic form. A relaxation that "
         "does not converge, a model whose energy is not reproducible, or an error estimate "
         "that is not small ends the run as an error. Writes "
         "elastic-constants-isothermal-cubic-crystal-npt. Input: species, structure, model, a."),
        (TD_SURFACE, "Ideal (100) and (111) surface energies of an fcc crystal",
         "Unrelaxed 12-layer slabs, non-periodic along the normal; writes two "
         "surface-energy-ideal-cubic-crystal instances. Input: species, fcc, model, a."),
    ]
    tools = (TD_TOOLS, "Shared module of the example drivers (drivertools.py); computes nothing",
             "The stdout guard, input reading, results writing, cubic crystal keys, Cauchy "
             "stress, isolated-atom energy and lattice-constant scan the example drivers and "
             "the species check import.")
    for extended_id, title, description in [*drivers, tools]:
        write(REPO / "td" / extended_id / "kimspec.edn", edn({
            "extended-id": extended_id,
            "title": title,
            "description": description,
            # The shared module runs nothing: without an executable, path() gives its folder.
            "executables": [] if extended_id == TD_TOOLS else ["runner"],
            "kim-api-version": "2.3",
            "domain": "openkim.org",
        }))


def write_check():
    folder = REPO / "vc" / VC_SPECIES
    write(folder / "kimspec.edn", edn({
        "extended-id": VC_SPECIES,
        "title": "Species supported as stated",
        "description": "Checks that the species a model states in its kimspec.edn are exactly "
                       "those the KIM API reports it supports, and that random clusters of "
                       "every stated species compute. Writes verification-check properties "
                       "(grade P, F or N/A).",
        "kim-api-version": "2.3",
        "category": "mandatory",
        "graded": False,
        "matching-models": ["standard-models"],
        "domain": "openkim.org",
        "executables": ["runner"],
    }))
    # The check runs in a scratch copy of its folder: it is told where the checks' shared
    # modules are (vc/ holds nine more checks, written by hand, on the same modules).
    write(folder / "pipeline.stdin.tpl", f'@< path("{TD_CHECK_TOOLS}") >@\n@< MODELNAME >@\n')


def write_properties():
    for short_name, (extended_id, property_id) in PROPERTIES.items():
        write(REPO / "pr" / extended_id / "kimspec.edn", edn({
            "extended-id": extended_id,
            "title": f"Property definition {short_name} (as shipped by kim-property)",
            "property-id": property_id,
        }))


def crystal_keys(species, structure, a):
    basis = BASIS[structure]
    return {
        "short-name": {"source-value": [structure]},
        "species": {"source-value": [species] * len(basis)},
        "a": {"source-value": a, "source-unit": "angstrom"},
        "basis-atom-coordinates": {"source-value": [[float(x) for x in row] for row in basis]},
        "space-group": {"source-value": SPACE_GROUP[structure]},
    }


def write_reference_data():
    for species, structure in CRYSTALS:
        a, temperature, cohesive = EXPERIMENT[species]
        # Room temperature and 1 atm: a hydrostatic Cauchy stress of -0.000101325 GPa.
        pressure_stress = -1.01325e-4
        items = [
            (f"LatticeConstant_{structure}_{species}_Kittel2005", "structure-cubic-crystal-npt",
             f"Experimental lattice constant of {structure} {species}", {
                 **crystal_keys(species, structure, a),
                 "temperature": {"source-value": temperature, "source-unit": "K"},
                 "cauchy-stress": {
                     "source-value": [pressure_stress] * 3 + [0.0] * 3, "source-unit": "GPa",
                 },
             }),
            (f"CohesiveEnergy_{structure}_{species}_Kittel2005",
             "cohesive-potential-energy-cubic-crystal",
             f"Experimental cohesive energy of {structure} {species}", {
                 **crystal_keys(species, structure, a),
                 "cohesive-potential-energy": {"source-value": cohesive, "source-unit": "eV"},
             }),
        ]
        for name, short_name, title, keys in items:
            extended_id = kim_id(name, "RD")
            property_id = PROPERTIES[short_name][1]
            write(REPO / "rd" / extended_id / "kimspec.edn", edn({
                "extended-id": extended_id,
                "title": title,
                "species": [species],
                "property-id": property_id,
                "citation": KITTEL,
            }))
            instance = {"property-id": property_id, "instance-id": 1, **keys}
            write(REPO / "rd" / extended_id / "data.edn", edn([instance]))


def main():
    global REPO
    if len(sys.argv) > 1:
        REPO = Path(sys.argv[1]).resolve()
    os.umask(0o022)
    write_drivers()
    write_tests()
    write_check()
    write_properties()
    write_reference_data()


if __name__ == "__main__":
    main()
