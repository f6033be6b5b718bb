"""Building items from source into the pipeline's own KIM API collection, with the real tool."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from repository import kimapi
from repository.errors import InvalidKIMID, PipelineBuildError
from repository.models import Error, Model
from runner import install
from runner.models import Build

pytestmark = [pytest.mark.kimapi, pytest.mark.django_db]

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "kim_items"
EXAMPLE_MODEL = "LennardJones612_Rahman_1964_Ar__MO_614223667899_000"
BROKEN_DRIVER = "BrokenPair__MD_000000000102_000"

ENERGY_SCRIPT = """
import json, sys
from ase.calculators.kim.kim import KIM
from ase.lattice.cubic import FaceCenteredCubic
atoms = FaceCenteredCubic("Ar", latticeconstant=float(sys.argv[2]), size=(2, 2, 2))
atoms.calc = KIM(sys.argv[1])
print(json.dumps(atoms.get_potential_energy() / len(atoms)))
"""


@pytest.fixture
def example_model(examples_dir) -> Path:
    return examples_dir / "mo" / EXAMPLE_MODEL


def collection_snapshot(root: Path) -> dict:
    """Every file of the pipeline's collection with its size and modification time."""
    return {
        str(p.relative_to(root)): (p.stat().st_size, p.stat().st_mtime_ns)
        for folder in kimapi.COLLECTION_FOLDERS.values()
        for p in (root / folder).rglob("*")
    }


def energy_per_atom(kim_id: str, lattice_constant: float, cwd: Path) -> float:
    done = subprocess.run([sys.executable, "-c", ENERGY_SCRIPT, kim_id, str(lattice_constant)],
                          env=kimapi.subprocess_environment(), cwd=cwd, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def copy_item(source: Path, destination_root: Path, new_id: str, replacements: dict) -> Path:
    target = destination_root / new_id
    shutil.copytree(source, target)
    for path in target.iterdir():
        if path.suffix in {".txt", ".edn"} or path.name == "CMakeLists.txt":
            text = path.read_text()
            for old, new in replacements.items():
                text = text.replace(old, new)
            path.write_text(text)
    return target


def test_example_model_builds_installs_and_computes_an_energy(kim_api_dir, repository_dir,
                                                              example_model, tmp_path, monkeypatch):
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)  # kim.log must land nowhere here (other suites share the checkout)
    build = install.install_item(example_model)
    assert build.status == Build.Status.SUCCEEDED
    assert Path(build.artifact) == kim_api_dir / "portable-models" / EXAMPLE_MODEL
    assert (Path(build.artifact) / "libkim-api-portable-model.so").is_file()
    assert "Success" in build.log
    assert not (example_model / "build").exists()  # built in a copy, not in the item's folder
    item = kimapi.installed_item(EXAMPLE_MODEL, with_metadata=True)
    assert item.collection == "user"
    assert item.metadata["species"] == ["Ar"]
    assert kimapi.supported_species(EXAMPLE_MODEL) == ["Ar"]
    config_file = kimapi.subprocess_environment()["KIM_API_CONFIGURATION_FILE"]
    assert Path(config_file).parent == kim_api_dir
    # fcc Ar near its LJ equilibrium (a = 1.5496 sigma = 5.27 Å): about -7.5 epsilon per atom
    # with a 2.5 sigma shifted cutoff; epsilon = 0.0103408 eV.
    run_folder = tmp_path / "run"
    run_folder.mkdir()
    energy = energy_per_atom(EXAMPLE_MODEL, 5.27, run_folder)
    assert -0.09 < energy < -0.06, energy
    assert energy < energy_per_atom(EXAMPLE_MODEL, 5.6, run_folder)
    assert not (work / "kim.log").exists()


def test_unchanged_item_is_not_rebuilt_unless_asked(kim_api_dir, repository_dir, example_model):
    first = install.install_item(example_model)
    again = install.install_item(example_model)
    assert again.finished_at == first.finished_at
    rebuilt = install.install_item(example_model, rebuild=True)
    assert rebuilt.finished_at > first.finished_at
    assert Build.objects.filter(kim_id=EXAMPLE_MODEL).count() == 1
    assert kimapi.model_loads(EXAMPLE_MODEL)


def test_broken_driver_is_an_error_of_category_build_and_changes_nothing(kim_api_dir, repository_dir,
                                                                         example_model):
    install.install_item(example_model)
    before = collection_snapshot(kim_api_dir)
    with pytest.raises(PipelineBuildError) as raised:
        install.install_item(FIXTURES / BROKEN_DRIVER)
    error = raised.value.error
    assert error.category == Error.Category.BUILD
    assert error.built_item == BROKEN_DRIVER
    assert error.model is None and error.test is None
    # The compiler quotes the offending line of BrokenPair.cpp in its diagnostic.
    assert "this is not C++" in error.stderr_tail
    assert (repository_dir / "er" / error.kim_id / "build.log").is_file()
    assert Build.objects.get(kim_id=BROKEN_DRIVER).status == Build.Status.FAILED
    assert collection_snapshot(kim_api_dir) == before
    assert BROKEN_DRIVER not in {i.name for i in kimapi.installed_items("model-driver")}
    assert not list((kim_api_dir / ".staging").iterdir())


def test_failed_rebuild_keeps_the_installed_version(kim_api_dir, repository_dir, example_model,
                                                    tmp_path):
    install.install_item(example_model)
    Model.objects.create(kim_id=EXAMPLE_MODEL, species=["Ar"], kim_api_version="2.2")
    before = collection_snapshot(kim_api_dir)
    broken = copy_item(example_model, tmp_path, EXAMPLE_MODEL,
                       {'PARAMETER_FILES "LennardJones612_Rahman_1964_Ar.params"':
                        'PARAMETER_FILES "missing.params"'})
    with pytest.raises(PipelineBuildError) as raised:
        install.install_item(broken, rebuild=True)
    assert raised.value.error.model.kim_id == EXAMPLE_MODEL
    assert raised.value.error.category == Error.Category.BUILD
    assert collection_snapshot(kim_api_dir) == before
    assert kimapi.model_loads(EXAMPLE_MODEL)


def test_model_whose_driver_is_missing_is_refused_before_any_download(kim_api_dir, repository_dir,
                                                                       example_model, tmp_path):
    orphan_id = "LennardJones612_Orphan_Ar__MO_000000000104_000"
    orphan = copy_item(example_model, tmp_path, orphan_id, {
        EXAMPLE_MODEL: orphan_id,
        "LennardJones612__MD_414112407348_003": "Missing__MD_000000000103_000",
    })
    with pytest.raises(PipelineBuildError, match="Missing__MD_000000000103_000 is not installed"):
        install.install_item(orphan)
    assert not (kim_api_dir / "portable-models" / orphan_id).exists()


@pytest.mark.slow
def test_drivers_are_installed_before_the_models_built_on_them(kim_api_dir, repository_dir,
                                                               example_model, tmp_path):
    original_driver = "LennardJones612__MD_414112407348_003"
    driver_id = "LennardJones612Copy__MD_000000000101_000"
    model_id = "LennardJones612Copy_Rahman_1964_Ar__MO_000000000105_000"
    driver = copy_item(Path("/usr/share/doc/libkim-api-dev/examples/model-drivers") / original_driver,
                       tmp_path, driver_id, {original_driver: driver_id})
    model = copy_item(example_model, tmp_path, model_id,
                      {EXAMPLE_MODEL: model_id, original_driver: driver_id})
    builds = install.install_items([model, driver])
    assert [b.kim_id for b in builds] == [driver_id, model_id]
    assert kimapi.installed_item(driver_id).collection == "user"
    assert kimapi.supported_species(model_id) == ["Ar"]


def test_item_folder_must_be_named_by_a_kim_id(kim_api_dir, tmp_path):
    folder = tmp_path / "not_a_kim_id"
    folder.mkdir()
    with pytest.raises(InvalidKIMID):
        install.install_item(folder)


def test_new_model_version_replaces_the_older_one_once_installed(kim_api_dir, repository_dir,
                                                                 example_model, tmp_path):
    install.install_item(example_model)
    Model.objects.create(kim_id=EXAMPLE_MODEL, species=["Ar"], kim_api_version="2.2",
                         source_format="installed", collection="user")
    newer_id = EXAMPLE_MODEL[:-3] + "001"
    newer = copy_item(example_model, tmp_path, newer_id, {EXAMPLE_MODEL: newer_id})
    install.install_item(newer)
    names = {i.name for i in kimapi.installed_items("portable-model") if i.collection == "user"}
    assert names == {newer_id}
    assert Model.objects.get(kim_id=EXAMPLE_MODEL).collection == ""


def test_install_sources_builds_the_repository_models_once(kim_api_dir, repository_dir, examples_dir):
    from repository.importer import import_repository
    from repository.installed import register_installed_items

    register_installed_items()  # the example model's driver is in the system collection
    import_repository(examples_dir)

    first = install.install_sources()
    built = Build.objects.get(kim_id=EXAMPLE_MODEL)
    again = install.install_sources()

    assert first == again == {"installed": [EXAMPLE_MODEL], "failed": []}
    assert (kim_api_dir / "portable-models" / EXAMPLE_MODEL).is_dir()
    assert Build.objects.get(kim_id=EXAMPLE_MODEL).finished_at == built.finished_at, "rebuilt"
    assert Model.objects.get(kim_id=EXAMPLE_MODEL).collection == "user"
