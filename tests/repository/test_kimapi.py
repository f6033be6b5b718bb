"""The KIM API wrapper against the real KIM API (Debian's libkim-api and openkim-models)."""

import os
from pathlib import Path

import pytest

from repository import kimapi
from repository.errors import PipelineFileMissing, PipelineSearchError

pytestmark = pytest.mark.kimapi

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "kim_items"
EAM_NI = "EAM_CubicNaturalSpline_AngeloMoodyBaskes_1995_Ni__MO_800536961967_003"
ADP_ALCU = "Sim_LAMMPS_ADP_ApostolMishin_2011_AlCu__SM_667696763561_000"
SYSTEM_COUNTS = {"portable-model": 441, "model-driver": 37, "simulator-model": 86}


def test_lists_the_system_collection_by_kind(kim_api_dir):
    items = kimapi.installed_items()
    for kind, count in SYSTEM_COUNTS.items():
        of_kind = [i for i in items if i.kind == kind]
        assert len(of_kind) == count
        assert {i.collection for i in of_kind} == {"system"}
    assert all(i.library.is_file() for i in items)
    assert {i.name for i in kimapi.installed_items("simulator-model")} >= {ADP_ALCU}


def test_reads_an_installed_items_kimspec(kim_api_dir):
    spec = kimapi.item_metadata(EAM_NI)
    assert spec["extended-id"] == EAM_NI
    assert spec["model-driver"] == "EAM_CubicNaturalSpline__MD_853402641673_002"
    assert kimapi.metadata_species(ADP_ALCU) == ["Al", "Cu"]
    assert kimapi.item_metadata("EAM_Dynamo__MD_120291908751_005")["kim-api-version"]


def test_item_without_kimspec_is_a_named_error(kim_api_dir):
    with pytest.raises(PipelineFileMissing, match="ex_model_Ar_P_LJ"):
        kimapi.item_metadata("ex_model_Ar_P_LJ")


@pytest.mark.parametrize("call", [kimapi.installed_item, kimapi.item_metadata,
                                  kimapi.metadata_species, kimapi.supported_species,
                                  kimapi.model_loads])
def test_unknown_names_raise_search_error(kim_api_dir, call):
    with pytest.raises(PipelineSearchError, match="NoSuchModel__MO_000000000000_000"):
        call("NoSuchModel__MO_000000000000_000")


def test_a_driver_is_not_a_model(kim_api_dir):
    with pytest.raises(PipelineSearchError, match="driver"):
        kimapi.check_models(["EAM_Dynamo__MD_120291908751_005"])


def test_authoritative_species_of_portable_and_simulator_models(kim_api_dir):
    assert kimapi.supported_species(EAM_NI) == ["Ni"]
    assert sorted(kimapi.supported_species(ADP_ALCU)) == ["Al", "Cu"]
    assert kimapi.model_loads("ex_model_Ar_P_LJ")
    universal = kimapi.supported_species("LJ_ElliottAkerson_2015_Universal__MO_959249795837_003")
    assert {"Ar", "Cu", "Si", "W"} <= set(universal)


@pytest.mark.slow
def test_metadata_species_agree_with_the_kim_api_for_every_installed_model(kim_api_dir):
    models = [i for i in kimapi.installed_items(with_metadata=True) if i.kind != "model-driver"]
    checks = kimapi.check_models(i.name for i in models)
    assert all(check.loads for check in checks.values())
    disagreements = [
        i.name for i in models
        if i.metadata is not None and set(i.metadata["species"]) != set(checks[i.name].species)
    ]
    assert disagreements == []
    assert sum(i.metadata is not None for i in models) >= 517


def test_kim_api_version_is_the_installed_2x(kim_api_dir):
    assert kimapi.kim_api_version() == "2.3.0"


def test_subprocess_environment_names_the_pipeline_collection(kim_api_dir, monkeypatch):
    monkeypatch.setenv("KIM_API_PORTABLE_MODELS_DIR", "/somewhere/else")
    env = kimapi.subprocess_environment()
    config_file = Path(env["KIM_API_CONFIGURATION_FILE"])
    assert config_file.parent == kim_api_dir
    assert not str(config_file).startswith(str(Path.home()))
    assert "KIM_API_PORTABLE_MODELS_DIR" not in env
    lines = dict(line.split(" = ") for line in config_file.read_text().splitlines())
    assert lines == {
        "model-drivers-dir": str(kim_api_dir / "model-drivers"),
        "portable-models-dir": str(kim_api_dir / "portable-models"),
        "simulator-models-dir": str(kim_api_dir / "simulator-models"),
    }
    assert all(Path(folder).is_dir() for folder in lines.values())


def test_in_process_calls_use_the_pipeline_collection_and_leave_no_kim_log(kim_api_dir, tmp_path,
                                                                          monkeypatch):
    import kimpy

    # A folder of this test's own: other suites sharing the checkout may write kim.log there.
    monkeypatch.chdir(tmp_path)
    kimapi.installed_items()
    kimapi.item_metadata(EAM_NI)
    kimapi.supported_species(EAM_NI)
    assert os.environ["KIM_API_CONFIGURATION_FILE"] == str(kim_api_dir / "config")
    collections = kimpy.collections.create()
    count = collections.cache_list_of_directory_names(kimpy.collection.user,
                                                      kimpy.collection_item_type.portableModel)
    assert [collections.get_directory_name(i) for i in range(count)] == [
        str(kim_api_dir / "portable-models")]
    assert not (tmp_path / "kim.log").exists()


@pytest.mark.django_db
def test_a_model_that_crashes_the_worker_is_reported_and_the_rest_still_answered(
        kim_api_dir, repository_dir):
    from runner import install

    install.install_item(FIXTURES / "CrashOnCreate__MO_000000000106_000")
    checks = kimapi.check_models([EAM_NI, "CrashOnCreate__MO_000000000106_000", ADP_ALCU])
    crashed = checks["CrashOnCreate__MO_000000000106_000"]
    assert not crashed.loads
    assert "signal 11" in crashed.error
    assert checks[EAM_NI].species == ("Ni",)
    assert checks[ADP_ALCU].loads


@pytest.mark.django_db
def test_a_model_that_hangs_is_killed_and_the_rest_still_answered(kim_api_dir, repository_dir,
                                                                   settings):
    from runner import install

    install.install_item(FIXTURES / "HangOnCreate__MO_000000000107_000")
    settings.KIM_API_WORKER_SECONDS_PER_MODEL = 2
    checks = kimapi.check_models(["HangOnCreate__MO_000000000107_000", EAM_NI])
    hung = checks["HangOnCreate__MO_000000000107_000"]
    assert not hung.loads and "no answer" in hung.error
    assert checks[EAM_NI].species == ("Ni",)
