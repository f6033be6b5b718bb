"""Registering what the real KIM API has installed: every model, simulator model and driver."""

import time

import pytest

from repository import kimapi
from repository.installed import register_installed_items
from repository.models import Model, ModelDriver, SourceFormat

pytestmark = [pytest.mark.kimapi, pytest.mark.django_db]


def test_registers_every_installed_item_with_a_kim_id(kim_api_dir):
    items = kimapi.installed_items()
    started = time.perf_counter()
    counts = register_installed_items()
    elapsed = time.perf_counter() - started
    assert counts["created"] == Model.objects.count() + ModelDriver.objects.count()
    assert counts["skipped"] > 0  # ex_model_Ar_P_LJ and friends are not KIM IDs
    assert counts["created"] + counts["skipped"] == len(items)
    assert "LJ__MD_414112407348_003" in set(ModelDriver.objects.values_list("kim_id", flat=True))
    assert counts["portable-models"] == Model.objects.filter(kind=Model.Kind.PORTABLE).count()
    assert counts["simulator-models"] == Model.objects.filter(kind=Model.Kind.SIMULATOR).count()
    assert elapsed < 10, f"registration took {elapsed:.1f} s"
    print(f"registered {counts} in {elapsed:.2f} s")


def test_registered_rows_carry_species_driver_and_simulator(kim_api_dir):
    register_installed_items()
    eam = Model.objects.get(kim_id="EAM_CubicNaturalSpline_AngeloMoodyBaskes_1995_Ni__MO_800536961967_003")
    assert eam.species == ["Ni"]
    assert eam.driver.kim_id == "EAM_CubicNaturalSpline__MD_853402641673_002"
    assert eam.kim_api_version == "2.0"
    assert eam.collection == "system"
    assert eam.source_format == SourceFormat.INSTALLED
    assert eam.title.startswith("EAM potential")
    adp = Model.objects.get(kim_id="Sim_LAMMPS_ADP_ApostolMishin_2011_AlCu__SM_667696763561_000")
    assert adp.kind == Model.Kind.SIMULATOR
    assert adp.simulator_name == "LAMMPS"
    assert adp.species == ["Al", "Cu"]
    assert not adp.simulator_compatible_with_standard
    compatible = Model.objects.get(kim_id="Sim_LAMMPS_MEAM_CuiGaoCui_2012_LiSi__SM_562938628131_000")
    assert compatible.simulator_compatible_with_standard  # run-compatibility portable-models


def test_second_name_of_one_kim_code_is_skipped_for_the_one_with_metadata(kim_api_dir):
    # The KIM API's example LennardJones612_UniversalShifted__MO_959249795837_003 (no kimspec.edn)
    # is the same item as openkim-models' LJ_ElliottAkerson_2015_Universal__MO_959249795837_003.
    register_installed_items()
    universal = Model.objects.get(number="959249795837", version=3)
    assert universal.kim_id == "LJ_ElliottAkerson_2015_Universal__MO_959249795837_003"
    assert universal.metadata["extended-id"] == universal.kim_id
    assert len(universal.species) > 100
    assert not Model.objects.filter(kim_id__startswith="ex_model").exists()


def test_registration_is_idempotent(kim_api_dir):
    register_installed_items()
    rows = Model.objects.count(), ModelDriver.objects.count()
    again = register_installed_items()
    assert again["created"] == 0
    assert again["updated"] == 0
    assert again["unchanged"] == rows[0] + rows[1]
    assert (Model.objects.count(), ModelDriver.objects.count()) == rows


def test_row_imported_from_source_keeps_its_metadata(kim_api_dir):
    kim_id = "EAM_Dynamo_AcklandBaconCalder_1997_Fe__MO_142799717516_005"
    assert kim_id in {i.name for i in kimapi.installed_items("portable-model")}
    Model.objects.create(kim_id=kim_id, title="from source", species=["Fe"],
                         source_format=SourceFormat.KIM2020, metadata={"title": "from source"})
    register_installed_items()
    row = Model.objects.get(kim_id=kim_id)
    assert row.title == "from source"
    assert row.collection == "system"
