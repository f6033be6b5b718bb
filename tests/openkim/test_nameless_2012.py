"""A 2012 repository whose property (and test) folders are named by codes without name.

The 2012 pipeline's RE_KIMID made the name optional and its property codes, such as
PR_044492852008_000, had none: such folders import as those items, pipeline.out lines naming
them resolve to them, and @DATA[TE][MO][PR] finds them; a 2020 folder still needs its name.
"""

import json
import shutil

import pytest

from repository.importer import import_repository
from repository.models import Property, PropertyValue, Test, TestResult
from runner.execute import run_pair
from tests.fixtures.runner.cast import DRIVER_2012, SOURCE_ROOT, installed_model

pytestmark = [pytest.mark.django_db, pytest.mark.kimapi]

LATTICE_PR, ENERGY_PR = "PR_044492852008_000", "PR_044492852009_000"
LATTICE = "LatticeConstantCubicEnergy_fcc_Al__TE_000000007301_000"
NAMELESS_TEST = "TE_000000007302_000"
STRUCTURE_ID = "tag:staff@noreply.openkim.org,2014-04-15:property/structure-cubic-crystal-npt"


def write(path, text, executable=False):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    if executable:
        path.chmod(0o755)


@pytest.fixture
def repository_2012(tmp_path):
    root = tmp_path / "repository-2012"
    shutil.copytree(SOURCE_ROOT / "td" / DRIVER_2012, root / "td" / DRIVER_2012)
    write(root / "pr" / LATTICE_PR / "metadata.json", json.dumps({
        "kim_code": LATTICE_PR, "title": "Lattice constant of a cubic crystal", "property_id": STRUCTURE_ID}))
    write(root / "pr" / ENERGY_PR / "metadata.json", json.dumps({
        "kim_code": ENERGY_PR, "title": "Energy per atom (a 2012 property without a tag id)"}))

    lattice = root / "te" / LATTICE
    fixture = SOURCE_ROOT / "te" / "LatticeConstantCubicEnergy_fcc_Al__TE_000000000201_000"
    write(lattice / LATTICE, (fixture / fixture.name).read_text(), executable=True)
    write(lattice / "metadata.json", json.dumps({
        "kim_code": LATTICE, "title": "Lattice constant of fcc Al", "species": ["Al"],
        "test_drivers": [DRIVER_2012]}))
    write(lattice / "pipeline.in", (fixture / "pipeline.in").read_text())
    write(lattice / "pipeline.out", f"lattice_constant : {LATTICE_PR}\nenergy : {ENERGY_PR}\n")

    dependent = root / "te" / NAMELESS_TEST
    cohesive = SOURCE_ROOT / "te" / "CohesiveEnergyAtLattice_fcc_Al__TE_000000000202_000"
    write(dependent / NAMELESS_TEST, (cohesive / cohesive.name).read_text(), executable=True)
    write(dependent / "metadata.json", json.dumps({
        "kim_code": NAMELESS_TEST, "title": "Energy at the upstream lattice constant", "species": ["Al"]}))
    write(dependent / "pipeline.in", f"@MODELNAME\n@DATA[TE_000000007301][@MODELNAME][{LATTICE_PR}]\n")
    write(dependent / "pipeline.out", f"cohesive_energy : {ENERGY_PR}\n")
    return root


def test_nameless_2012_folders_import_as_those_items(repository_2012, repository_dir):
    report = import_repository(repository_2012)
    assert report.ok, report.rejected
    assert {LATTICE_PR, ENERGY_PR, NAMELESS_TEST} <= set(report.created)
    lattice_property = Property.objects.resolve("PR_044492852008")
    assert (lattice_property.kim_id, lattice_property.name) == (LATTICE_PR, "")
    assert lattice_property.short_name == "structure-cubic-crystal-npt"
    assert (repository_dir / "pr" / LATTICE_PR / "metadata.json").is_file()
    nameless = Test.objects.get(kim_id=NAMELESS_TEST)
    assert nameless.name == "" and [t.kim_id for t in nameless.depends_on.all()] == [LATTICE]


def test_pipeline_out_and_data_lines_naming_them_resolve_to_them(repository_2012, repository_dir):
    import_repository(repository_2012)
    model = installed_model()
    lattice = run_pair(Test.objects.get(kim_id=LATTICE), model)
    assert isinstance(lattice, TestResult), getattr(lattice, "message", lattice)
    assert lattice[LATTICE_PR][0] == pytest.approx(4.032, abs=0.01)
    # The key mapped to PR_044492852008_000 is stored under that Property's short name.
    (a,) = PropertyValue.objects.filter(result=lattice, property_id=LATTICE_PR)
    assert a.property_name == "structure-cubic-crystal-npt" and a.key == "lattice_constant"
    (energy,) = PropertyValue.objects.filter(result=lattice, property_id=ENERGY_PR)
    assert energy.property_name == ENERGY_PR  # a 2012 property without a tag id keeps its code

    # A nameless test reads the nameless property with @DATA, and runs.
    dependent = run_pair(Test.objects.get(kim_id=NAMELESS_TEST), model)
    assert isinstance(dependent, TestResult), getattr(dependent, "message", dependent)
    assert dependent.provenance["upstream-results"] == [lattice.kim_id]
    assert float((dependent.path / "pipeline.stdin").read_text().split()[1]) == pytest.approx(
        lattice[LATTICE_PR][0])
    assert dependent[ENERGY_PR][0] == pytest.approx(3.36, abs=0.01)


def test_a_2020_folder_still_needs_its_name(tmp_path, repository_dir):
    folder = tmp_path / "source" / "te" / "TE_000000007303_000"
    write(folder / "kimspec.edn", '{"extended-id" "TE_000000007303_000"}\n')
    report = import_repository(tmp_path / "source")
    ((rejected, reason),) = report.rejected
    assert rejected == folder and "no name" in reason
