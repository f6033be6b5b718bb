"""The example repository's items are complete and consistent (no KIM API needed)."""

import json
import os
import re
import subprocess
import sys

import kim_edn
import pytest
from kim_property import check_property_instances, get_properties

from .standin import PROJECT_DIR, REPOSITORY, Upstream, find_by_code, render, render_2012

OWN_KINDS = ("td", "te", "pr", "rd", "vc")  # mo/ and md/ belong to another part of the project
STRUCTURE_ID = "tag:staff@noreply.openkim.org,2014-04-15:property/structure-cubic-crystal-npt"
KIM_ID = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*__([A-Z]{2})_(\d{12})_(\d{3})$")


def items(kind):
    return sorted(p for p in (REPOSITORY / kind).iterdir() if p.is_dir())


def kimspec(folder):
    return kim_edn.load(str(folder / "kimspec.edn"))


def folders_2020():
    return [p for p in items("te") if (p / "kimspec.edn").exists()]


def folders_2012():
    return [p for p in items("te") if (p / "metadata.json").exists()]


def test_every_item_folder_is_a_kim_id_of_its_kind():
    for kind in OWN_KINDS:
        for folder in items(kind):
            match = KIM_ID.match(folder.name)
            assert match, folder.name
            assert match.group(1) == kind.upper(), folder.name


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
def test_2020_test_is_complete(folder):
    spec = kimspec(folder)
    assert spec["extended-id"] == folder.name
    assert spec["kim-api-version"] == "2.3"
    assert spec["matching-models"] == ["standard-models"]
    assert spec["domain"] == "openkim.org"
    assert spec["title"] and len(spec["species"]) == 1
    assert os.access(folder / "runner", os.X_OK)
    driver = REPOSITORY / "td" / spec["test-driver"]
    assert os.access(driver / "runner", os.X_OK)
    assert kimspec(driver)["extended-id"] == driver.name


@pytest.mark.parametrize("folder", folders_2020(), ids=lambda p: p.name)
def test_template_renders_and_queries_only_its_dependencies(folder):
    spec = kimspec(folder)
    upstream = Upstream()
    dependencies = []
    if (folder / "dependencies.edn").exists():
        dependencies = kim_edn.load(str(folder / "dependencies.edn"))
        for code in dependencies:
            assert find_by_code(code).is_dir()
            upstream.results[(code, "SomeModel__MO_000000000000_000")] = kim_edn.dumps([{
                "property-id": STRUCTURE_ID,
                "instance-id": 1,
                "a": {"source-value": 4.25, "source-unit": "angstrom"},
            }])
    text = render((folder / "pipeline.stdin.tpl").read_text(), "SomeModel__MO_000000000000_000",
                  folder.name, upstream)
    lines = [line for line in text.splitlines() if line.strip()]
    # First line: the driver's folder, absolute, so the test runs from any copy of itself.
    assert lines[0] == str(REPOSITORY / "td" / spec["test-driver"])
    structure = folder.name.split("__")[0].split("_")[-2]  # Name_fcc_Al
    assert lines[1:4] == [spec["species"][0], structure, "SomeModel__MO_000000000000_000"]
    if dependencies:
        assert lines[4] == "4.25"
        assert [call[0] for call in upstream.calls] == [dependencies]
    else:
        assert upstream.calls == []


def test_dependencies_are_lattice_tests_of_the_same_crystal():
    for folder in folders_2020():
        if not (folder / "dependencies.edn").exists():
            continue
        (code,) = kim_edn.load(str(folder / "dependencies.edn"))
        assert re.fullmatch(r"TE_\d{12}", code), "dependencies name the lineage, not a version"
        upstream = find_by_code(code)
        assert kimspec(upstream)["test-driver"].startswith("LatticeConstantCubicEnergy__")
        crystal = folder.name.split("__")[0].split("_", 1)[1]  # e.g. fcc_Al
        assert upstream.name.split("__")[0].endswith(crystal)


@pytest.mark.parametrize("folder", folders_2012(), ids=lambda p: p.name)
def test_2012_test_is_complete(folder):
    metadata = json.loads((folder / "metadata.json").read_text())
    assert metadata["kim_code"] == folder.name
    assert {"title", "description", "test_drivers", "species"} <= set(metadata)
    assert os.access(folder / folder.name, os.X_OK)
    driver = REPOSITORY / "td" / metadata["test_drivers"][0]
    assert os.access(driver / driver.name, os.X_OK)
    assert json.loads((driver / "metadata.json").read_text())["kim_code"] == driver.name
    rendered = render_2012((folder / "pipeline.in").read_text(), "M__MO_000000000000_000", folder.name)
    assert rendered.splitlines()[0] == str(driver / driver.name)
    assert "M__MO_000000000000_000" in rendered.splitlines()
    for line in (folder / "pipeline.out").read_text().splitlines():
        key, code = (part.strip() for part in line.split(":"))
        assert key in {"lattice_constant", "cohesive_energy"}
        assert kimspec(find_by_code(code))["property-id"] in get_properties()


def test_property_items_name_definitions_kim_property_ships():
    shipped = get_properties()
    for folder in items("pr"):
        spec = kimspec(folder)
        assert spec["extended-id"] == folder.name
        assert spec["property-id"] in shipped
        # Folder names cannot hold hyphens (KIM IDs), so they spell the short name with "_".
        assert spec["property-id"].endswith("property/" + folder.name.split("__")[0].replace("_", "-"))


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


def test_verification_check_is_complete():
    (folder,) = items("vc")
    spec = kimspec(folder)
    assert spec["extended-id"] == folder.name
    assert spec["category"] == "informational" and spec["graded"] is False
    assert os.access(folder / "runner", os.X_OK)
    assert render((folder / "pipeline.stdin.tpl").read_text(), "X__MO_000000000000_000", folder.name) == (
        "X__MO_000000000000_000\n"
    )


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
    committed_tests = {p.name for p in items("te")}
    assert committed_tests == {p.name for p in (tmp_path / "te").iterdir()}
