"""The example repository's items are complete and consistent, and its generator reproduces it.

What the importer checks for every repository (KIM IDs as folder names, kimspec extended-ids,
executables, drivers and dependencies that exist, property definitions) is shown once, by the
import itself; what is particular to this example (its conventions, its templates, its data)
is checked here. Templates are rendered by the pipeline's own engine (runner.template).
"""

import json
import re
import subprocess
import sys

import kim_edn
import pytest
from django.utils import timezone
from kim_property import check_property_instances, get_properties

from repository import kimcodes
from repository.models import (
    Model,
    Property,
    ReferenceDatum,
    SourceFormat,
    Test,
    TestDriver,
    TestResult,
    VerificationCheck,
)
from runner.template import render_input
from tests.conftest import EXAMPLES_DIR, PROJECT_DIR

REPOSITORY = EXAMPLES_DIR
OWN_KINDS = ("td", "te", "pr", "rd", "vc")  # mo/ and md/ belong to another part of the project
STRUCTURE_ID = "tag:staff@noreply.openkim.org,2014-04-15:property/structure-cubic-crystal-npt"
KIM_ID = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*__([A-Z]{2})_(\d{12})_(\d{3})$")
SOME_MODEL = "SomeModel__MO_000000000000_000"


def items(kind):
    return sorted(p for p in (REPOSITORY / kind).iterdir() if p.is_dir())


def kimspec(folder):
    return kim_edn.load(str(folder / "kimspec.edn"))


def kimgenie_folders():
    """Tests made by kimgenie from a driver's test_template/ (tests/openkim/test_kimgenie.py)."""
    drivers = {p.name for p in items("td") if (p / "test_template").is_dir()}
    return [p for p in items("te") if (p / "kimspec.edn").exists()
            and kimspec(p).get("test-driver") in drivers]


def folders_2020():
    """The 2020 tests the generator script writes, by the conventions checked here."""
    generated = set(kimgenie_folders())
    return [p for p in items("te") if (p / "kimspec.edn").exists() and p not in generated]


def folders_2012():
    return [p for p in items("te") if (p / "metadata.json").exists()]


@pytest.fixture
def some_model(examples):
    """A model row for rendering only (templates need no installed model)."""
    return Model.objects.create(kim_id=SOME_MODEL, species=["Al"], kim_api_version="2.3",
                                source_format=SourceFormat.INSTALLED)


@pytest.mark.django_db
def test_the_whole_example_imports(examples):
    assert examples.report.rejected == []
    counts = {kind: len(items(kind)) for kind in ("te", "td", "pr", "rd", "vc", "mo")}
    assert len(examples.report.created) == sum(counts.values())
    assert Test.objects.count() == counts["te"] == 43 + len(kimgenie_folders())
    assert TestDriver.objects.count() == counts["td"]
    assert Property.objects.count() == counts["pr"]
    assert ReferenceDatum.objects.count() == counts["rd"]
    assert VerificationCheck.objects.count() == counts["vc"]
    assert Test.objects.filter(source_format=SourceFormat.KIM2012).count() == len(folders_2012())


def test_item_numbers_are_unique():
    numbers = [KIM_ID.match(p.name).group(2) for kind in OWN_KINDS for p in items(kind)]
    assert len(numbers) == len(set(numbers))


def test_the_example_covers_the_required_species_and_kinds():
    species = {kimspec(p)["species"][0] for p in folders_2020()}
    assert {"Ar", "Al", "Cu", "Ni", "Fe", "W", "Si", "C"} <= species
    drivers = {kimspec(p)["test-driver"].split("__")[0] for p in folders_2020()}
    assert drivers == {
        "LatticeConstantCubicEnergy", "BulkModulusCubic", "ElasticConstantsCubic",
        "SurfaceEnergyIdealFCC",
    }


@pytest.mark.parametrize("folder", folders_2020(), ids=lambda p: p.name)
def test_2020_test_follows_the_conventions(folder):
    spec = kimspec(folder)
    assert spec["kim-api-version"] == "2.3"
    assert spec["matching-models"] == ["standard-models"]
    assert spec["domain"] == "openkim.org"
    assert spec["title"] and len(spec["species"]) == 1
    # Name_structure_Species__TE_…, run by the driver of the name's first part.
    stem, structure, species = folder.name.split("__")[0].rsplit("_", 2)
    assert spec["species"] == [species]
    assert spec["test-driver"].split("__")[0] == stem


@pytest.mark.django_db
@pytest.mark.parametrize("folder", folders_2020(), ids=lambda p: p.name)
def test_template_renders_and_queries_only_its_dependencies(folder, some_model):
    test = Test.objects.get(kim_id=folder.name)
    spec = kimspec(folder)
    upstream = []
    if (folder / "dependencies.edn").exists():
        # The only results in the database: those of the tests it depends on (a = 4.25 Å).
        for dependency in test.depends_on.all():
            upstream.append(TestResult.objects.create(
                kim_id=str(kimcodes.new_result_code("TR")), test=dependency, model=some_model,
                created_at=timezone.now(),
                instances=[{"property-id": STRUCTURE_ID, "instance-id": 1,
                            "a": {"source-value": 4.25, "source-unit": "angstrom"}}]))
        assert upstream
    rendered = render_input(test, some_model)
    lines = [line for line in rendered.text.splitlines() if line.strip()]
    # First line: the driver's executable (path() as OpenKIM means it), absolute, so the
    # test's runner hands it to a shell from any copy of its folder.
    assert lines[0] == str(test.driver.path.resolve() / "runner")
    structure = folder.name.split("__")[0].split("_")[-2]  # Name_fcc_Al
    assert lines[1:4] == [spec["species"][0], structure, SOME_MODEL]
    if upstream:
        assert lines[4] == "4.25"
    assert rendered.upstream == [result.kim_id for result in upstream]


@pytest.mark.django_db
def test_dependencies_are_lattice_tests_of_the_same_crystal(examples):
    dependents = Test.objects.filter(depends_on__isnull=False).exclude(
        kim_id__in=[p.name for p in kimgenie_folders()]).distinct()
    assert dependents.count() == len([p for p in folders_2020() if (p / "dependencies.edn").exists()])
    for test in dependents:
        (code,) = kim_edn.load(str(REPOSITORY / "te" / test.kim_id / "dependencies.edn"))
        assert re.fullmatch(r"TE_\d{12}", code), "dependencies name the lineage, not a version"
        (upstream,) = test.depends_on.all()
        assert upstream.driver.kim_id.startswith("LatticeConstantCubicEnergy__")
        crystal = test.kim_id.split("__")[0].split("_", 1)[1]  # e.g. fcc_Al
        assert upstream.kim_id.split("__")[0].endswith(crystal)


@pytest.mark.django_db
@pytest.mark.parametrize("folder", folders_2012(), ids=lambda p: p.name)
def test_2012_test_is_complete(folder, some_model):
    metadata = json.loads((folder / "metadata.json").read_text())
    assert {"title", "description", "test_drivers", "species"} <= set(metadata)
    test = Test.objects.get(kim_id=folder.name)
    driver = test.driver.path.resolve()
    assert driver.name == metadata["test_drivers"][0]
    # @PATH[TD_…] is the driver's executable, @MODELNAME the model.
    rendered = render_input(test, some_model).text.splitlines()
    assert rendered[0] == str(driver / driver.name)
    assert SOME_MODEL in rendered
    for line in (folder / "pipeline.out").read_text().splitlines():
        key, code = (part.strip() for part in line.split(":"))
        assert key in {"lattice_constant", "cohesive_energy"}
        assert Property.objects.resolve(code).property_id in get_properties()


def test_property_items_spell_their_short_names():
    for folder in items("pr"):
        # Folder names cannot hold hyphens (KIM IDs), so they spell the short name with "_".
        assert kimspec(folder)["property-id"].endswith(
            "property/" + folder.name.split("__")[0].replace("_", "-"))


def test_reference_data_validate_and_agree_with_their_kimspec():
    property_items = {kimspec(p)["property-id"] for p in items("pr")}
    assert len(items("rd")) >= 16
    for folder in items("rd"):
        spec = kimspec(folder)
        assert spec["extended-id"] == folder.name and "Kittel" in spec["citation"]
        text = (folder / "data.edn").read_text()
        check_property_instances(text, fp_path=get_properties())
        (instance,) = kim_edn.loads(text)
        assert instance["property-id"] == spec["property-id"] in property_items
        assert set(instance["species"]["source-value"]) == set(spec["species"])


@pytest.mark.django_db
def test_verification_check_is_complete(some_model):
    check = VerificationCheck.objects.get(kim_id__startswith="SpeciesSupportedAsStated__VC_")
    assert check.category == "mandatory" and check.graded is False
    rendered = render_input(check, some_model)
    # The check runs in a scratch copy of its folder: the first line says where the checks'
    # shared modules are (stored with the drivers), the second names the model.
    tools = TestDriver.objects.get(kim_id__startswith="VerificationCheckTools__TD_")
    assert rendered.text == f"{tools.path.resolve()}\n{SOME_MODEL}\n" and rendered.upstream == []


def test_generator_reproduces_the_committed_items(tmp_path):
    subprocess.run(
        [sys.executable, str(PROJECT_DIR / "examples" / "tools" / "make_example_repository.py"),
         str(tmp_path)],
        check=True,
    )
    generated = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*") if p.is_file())
    assert generated
    for relative in generated:
        assert (REPOSITORY / relative).read_bytes() == (tmp_path / relative).read_bytes(), relative
    committed_tests = {p.name for p in items("te")} - {p.name for p in kimgenie_folders()}
    assert committed_tests == {p.name for p in (tmp_path / "te").iterdir()}
