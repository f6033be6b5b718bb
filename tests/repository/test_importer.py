"""importrepo and repository.importer on small repositories built in each test, both formats."""

import json
import logging
import os
import shutil
import subprocess
import sys
import time
import types

import kim_edn
import pytest
from django.core.management import CommandError, call_command

from repository import storage
from repository.errors import PipelineImportError
from repository.importer import import_item, import_repository, item_folders
from repository.models import (
    Model,
    ModelDriver,
    Property,
    ReferenceDatum,
    SourceFormat,
    Status,
    Test,
    TestDriver,
    VerificationCheck,
)
from tests.repository import builders as b

pytestmark = pytest.mark.django_db

ITEM_TABLES = (Test, TestDriver, Model, ModelDriver, Property, ReferenceDatum, VerificationCheck)


def row_state():
    """Every item row's KIM ID and updated_at: what a repeated import must leave alone."""
    return {m.__name__: sorted(m.objects.values_list("kim_id", "updated_at")) for m in ITEM_TABLES}


def all_kim_ids():
    return {kim_id for m in ITEM_TABLES for kim_id in m.objects.values_list("kim_id", flat=True)}


@pytest.fixture
def source(tmp_path):
    return b.build_source_repository(tmp_path / "source")


@pytest.fixture
def importer_log():
    """Records of logger pipeline.importer, captured whatever the handlers of ``pipeline`` do."""
    records = []

    class Keep(logging.Handler):
        def emit(self, record):
            records.append(record)

    handler = Keep(level=logging.DEBUG)
    logger = logging.getLogger("pipeline.importer")
    logger.addHandler(handler)
    yield records
    logger.removeHandler(handler)


def test_imports_every_kind_in_both_formats(source, repository_dir):
    report = import_repository(source)

    assert report.rejected == []
    assert sorted(report.created) == sorted(b.ALL_ITEMS)
    assert all_kim_ids() == set(b.ALL_ITEMS)

    te_2012 = Test.objects.get(kim_id=b.TE_2012)
    assert te_2012.source_format == SourceFormat.KIM2012
    assert te_2012.driver.kim_id == b.TD_2012
    assert te_2012.species == ["Fe"]
    elastic = Test.objects.get(kim_id=b.TE_2012_ELASTIC)
    assert [t.kim_id for t in elastic.depends_on.all()] == [b.TE_2012]

    te_a = Test.objects.get(kim_id=b.TE_A1)
    assert te_a.source_format == SourceFormat.KIM2020
    assert te_a.driver.kim_id == b.TD_2020
    assert (te_a.matching_models, te_a.timeout, te_a.kim_api_version) == (["standard-models"], 120, "2.3")
    # dependencies.edn names the lineage without version: the latest version is meant.
    assert [t.kim_id for t in Test.objects.get(kim_id=b.TE_B).depends_on.all()] == [b.TE_A1]

    model = Model.objects.get(kim_id=b.MO)
    assert (model.kind, model.driver.kim_id, model.status) == (Model.Kind.PORTABLE, b.MD, Status.APPROVED)
    simulator = Model.objects.get(kim_id=b.SM)
    assert (simulator.kind, simulator.simulator_name, simulator.simulator_compatible_with_standard) == (
        Model.Kind.SIMULATOR, "LAMMPS", True)

    shipped = Property.objects.get(kim_id=b.PR_SHIPPED)
    assert (shipped.short_name, shipped.definition["property-title"]) == ("atomic-mass", "Atomic mass")
    custom = Property.objects.get(kim_id=b.PR_CUSTOM)
    assert custom.definition["property-title"] == "A quantity for tests"
    datum = ReferenceDatum.objects.get(kim_id=b.RD)
    assert (datum.property, datum.citation, datum.data[0]["mass"]["source-value"]) == (
        shipped, "CRC Handbook", 39.948)
    check = VerificationCheck.objects.get(kim_id=b.VC)
    assert (check.category, check.graded) == ("mandatory", False)
    assert TestDriver.objects.get(kim_id=b.TD_2020).executables == ["runner"]

    for kim_id in b.ALL_ITEMS:
        copied = storage.item_path(kim_id)
        assert copied.parent.parent == repository_dir
        assert storage.folder_hash(copied) == storage.folder_hash(b.folder_of(source, kim_id))
    assert os.access(storage.item_path(b.TE_A0) / "runner", os.X_OK)


def test_second_import_changes_nothing(source, repository_dir):
    import_repository(source)
    before = row_state()
    listing = sorted(str(p) for p in repository_dir.rglob("*"))

    report = import_repository(source)

    assert (report.created, report.updated, report.rejected) == ([], [], [])
    assert sorted(report.unchanged) == sorted(b.ALL_ITEMS)
    assert row_state() == before
    assert sorted(str(p) for p in repository_dir.rglob("*")) == listing


def test_changed_folder_is_updated_in_database_and_repository(source, repository_dir):
    import_repository(source)
    spec_path = b.folder_of(source, b.MO) / "kimspec.edn"
    spec = kim_edn.loads(spec_path.read_text())
    spec["title"] = "LJ for argon, corrected"
    spec_path.write_text(kim_edn.dumps(spec))

    report = import_repository(source)

    assert report.updated == [b.MO]
    assert Model.objects.get(kim_id=b.MO).title == "LJ for argon, corrected"
    assert "corrected" in (storage.item_path(b.MO) / "kimspec.edn").read_text()
    assert not [p for p in storage.item_path(b.MO).parent.iterdir() if p.name.startswith(".")]


def test_import_in_place_copies_nothing(repository_dir):
    b.build_source_repository(repository_dir)
    listing = sorted(str(p) for p in repository_dir.rglob("*"))

    report = import_repository()

    assert len(report.created) == len(b.ALL_ITEMS) and not report.rejected
    assert sorted(str(p) for p in repository_dir.rglob("*")) == listing


def test_pending_option_marks_models_pending_and_metadata_status_wins(source, repository_dir):
    spec_path = b.folder_of(source, b.SM) / "kimspec.edn"
    spec = kim_edn.loads(spec_path.read_text())
    spec["status"] = "approved"
    spec_path.write_text(kim_edn.dumps(spec))

    call_command("importrepo", str(source), "--pending", "--no-progress", stdout=open(os.devnull, "w"))

    assert Model.objects.get(kim_id=b.MO).status == Status.PENDING
    assert Model.objects.get(kim_id=b.SM).status == Status.APPROVED
    assert Test.objects.get(kim_id=b.TE_A0).status == Status.APPROVED


def test_import_item_alone_needs_its_driver_first(source, repository_dir):
    with pytest.raises(PipelineImportError) as caught:
        import_item(b.folder_of(source, b.MO), source_root=source)
    assert caught.value.kim_id == b.MO
    assert b.MD in str(caught.value)

    import_item(b.folder_of(source, b.MD), source_root=source)
    model = import_item(b.folder_of(source, b.MO), source_root=source)
    assert isinstance(model, Model) and model.driver.kim_id == b.MD


def test_tests_come_after_their_dependencies_whatever_the_names(tmp_path, repository_dir):
    source = b.build_source_repository(tmp_path / "source")
    # A dependent whose name sorts before its upstream test.
    b.item_2020(source, "AAA_first_by_name__TE_000000000099_000", runner=True, template=True,
                test_driver=b.TD_2020, dependencies=["TE_000000000051"])
    names = [f.name for f in item_folders(source)]
    assert names.index("AAA_first_by_name__TE_000000000099_000") > names.index(b.TE_B) > names.index(b.TE_A1)
    assert names.index(b.TD_2020) < names.index(b.TE_A0)

    report = import_repository(source)

    assert report.rejected == []
    depends = Test.objects.get(number="000000000099").depends_on.get()
    assert depends.kim_id == b.TE_B


# -- bad items: each is rejected with its path and reason; the others still import -----------


def _malformed_id(source):
    folder = source / "te" / "Bad__TE_12345_000"
    shutil.copytree(b.folder_of(source, b.TE_A0), folder)
    return folder, "not a full KIM ID"


def _wrong_leader_folder(source):
    folder = source / "te" / b.MO
    shutil.copytree(b.folder_of(source, b.MO), folder)
    return folder, "a MO item in the te/ folder"


def _disagreeing_kimspec(source):
    folder = b.item_2020(source, "Other__TE_000000000070_000", runner=True, template=True)
    (folder / "kimspec.edn").write_text(kim_edn.dumps({"extended-id": "Other__TE_000000000071_000"}))
    return folder, "disagrees with kimspec extended-id"


def _disagreeing_metadata(source):
    folder = b.item_2012(source, "Other__TE_000000000072_000", pipeline_in="x\n", pipeline_out="")
    (folder / "metadata.json").write_text(json.dumps({"kim_code": "Other__TE_000000000073_000"}))
    return folder, "disagrees with metadata kim_code"


def _unparsable_edn(source):
    folder = b.item_2020(source, "Broken__TE_000000000074_000", runner=True, template=True)
    (folder / "kimspec.edn").write_text('{"extended-id" "Broken__TE_000000000074_000" "title" ')
    return folder, "kimspec.edn is not valid EDN"


def _unparsable_dependencies(source):
    folder = b.item_2020(source, "Broken__TE_000000000075_000", runner=True, template=True)
    (folder / "dependencies.edn").write_text('["TE_000000000050"')
    return folder, "dependencies.edn is not valid EDN"


def _unparsable_json(source):
    folder = b.item_2012(source, "Broken__TE_000000000076_000", pipeline_in="x\n", pipeline_out="")
    (folder / "metadata.json").write_text('{"kim_code": ')
    return folder, "metadata.json is not valid JSON"


def _missing_2020(name):
    def make(source):
        folder = b.item_2020(source, "Missing__TE_000000000077_000", runner=True, template=True)
        (folder / name).unlink()
        reason = "neither kimspec.edn nor metadata.json" if name == "kimspec.edn" else f"required file {name} is missing"
        return folder, reason
    make.__name__ = f"missing_2020_{name}"
    return make


def _missing_2012(name):
    def make(source):
        kim_id = "Missing__TE_000000000078_000"
        folder = b.item_2012(source, kim_id, pipeline_in="@MODELNAME\n", pipeline_out="a : PR_000000000001_000\n")
        (folder / (kim_id if name == "executable" else name)).unlink()
        if name == "metadata.json":
            return folder, "neither kimspec.edn nor metadata.json"
        return folder, f"required file {kim_id if name == 'executable' else name} is missing"
    make.__name__ = f"missing_2012_{name}"
    return make


def _unknown_dependency(source):
    folder = b.item_2020(source, "Orphan__TE_000000000079_000", runner=True, template=True,
                         dependencies=["TE_000000000666"])
    return folder, "dependency: test TE_000000000666 is not in the database"


def _unknown_test_driver(source):
    folder = b.item_2020(source, "Orphan__TE_000000000080_000", runner=True, template=True,
                         test_driver="Nowhere__TD_000000000667_000")
    return folder, "test driver Nowhere__TD_000000000667_000 is not in the database"


def _symlink_out_of_repository(source):
    outside = source.parent / "outside.txt"
    outside.write_text("secret\n")
    folder = b.item_2020(source, "Leaky__TE_000000000081_000", runner=True, template=True)
    (folder / "data").symlink_to(outside)
    return folder, "symlink leads out of the repository"


def _dependency_cycle(source):
    first = b.item_2020(source, "Cycle__TE_000000000082_000", runner=True, template=True,
                        dependencies=["TE_000000000083"])
    b.item_2020(source, "Cycle__TE_000000000083_000", runner=True, template=True,
                dependencies=["TE_000000000082"])
    return first, "is not in the database"


def _title_too_long(source):
    folder = b.item_2020(source, "Wordy__TE_000000000084_000", runner=True, template=True)
    spec = kim_edn.loads((folder / "kimspec.edn").read_text())
    spec["title"] = "x" * 400
    (folder / "kimspec.edn").write_text(kim_edn.dumps(spec))
    return folder, "invalid field values"


BAD_ITEMS = [
    _malformed_id, _wrong_leader_folder, _disagreeing_kimspec, _disagreeing_metadata,
    _unparsable_edn, _unparsable_dependencies, _unparsable_json,
    _missing_2020("runner"), _missing_2020("pipeline.stdin.tpl"), _missing_2020("kimspec.edn"),
    _missing_2012("metadata.json"), _missing_2012("pipeline.in"), _missing_2012("pipeline.out"),
    _missing_2012("executable"),
    _unknown_dependency, _unknown_test_driver, _symlink_out_of_repository, _dependency_cycle,
    _title_too_long,
]


@pytest.mark.parametrize("make_bad_item", BAD_ITEMS, ids=lambda f: f.__name__.strip("_"))
def test_bad_item_is_rejected_alone(make_bad_item, source, repository_dir, importer_log):
    bad_folder, reason = make_bad_item(source)

    report = import_repository(source)

    rejected = dict(report.rejected)
    assert bad_folder in rejected, report.rejected
    assert reason in rejected[bad_folder]
    assert sorted(report.created) == sorted(b.ALL_ITEMS)
    assert all_kim_ids() == set(b.ALL_ITEMS)
    kind_folder = repository_dir / bad_folder.parent.name
    assert sorted(p.name for p in kind_folder.iterdir()) == sorted(
        k for k in b.ALL_ITEMS if b.folder_of(repository_dir, k).parent == kind_folder)
    logged = [r.getMessage() for r in importer_log if r.levelno == logging.WARNING]
    assert any(str(bad_folder) in message and reason in message for message in logged)


def test_rejection_gives_nonzero_exit_and_names_the_item(source, repository_dir, capsys):
    bad_folder, reason = _unparsable_edn(source)
    out, err = _Text(), _Text()

    with pytest.raises(CommandError) as caught:
        call_command("importrepo", str(source), "--no-progress", stdout=out, stderr=err)

    assert caught.value.returncode == 1
    assert f"rejected {bad_folder}" in err.text and reason in err.text
    assert f"{len(b.ALL_ITEMS)} created, 0 updated, 0 unchanged, 1 rejected" in out.text


def test_clean_import_exits_zero_and_prints_summary(source, repository_dir):
    out = _Text()
    call_command("importrepo", str(source), "--no-progress", stdout=out)
    assert f"{len(b.ALL_ITEMS)} created, 0 updated, 0 unchanged, 0 rejected" in out.text


def test_missing_repository_folder_is_a_command_error(tmp_path, repository_dir):
    with pytest.raises(CommandError, match="does not exist"):
        call_command("importrepo", str(tmp_path / "nowhere"), "--no-progress")


def test_update_that_fails_leaves_old_row_and_folder(source, repository_dir):
    import_repository(source)
    old_copy = (storage.item_path(b.TE_A0) / "kimspec.edn").read_text()
    spec_path = b.folder_of(source, b.TE_A0) / "kimspec.edn"
    spec = kim_edn.loads(spec_path.read_text())
    spec["test-driver"] = "Gone__TD_000000000999_000"
    spec_path.write_text(kim_edn.dumps(spec))

    report = import_repository(source)

    assert [p for p, _ in report.rejected] == [b.folder_of(source, b.TE_A0)]
    assert Test.objects.get(kim_id=b.TE_A0).driver.kim_id == b.TD_2020
    assert (storage.item_path(b.TE_A0) / "kimspec.edn").read_text() == old_copy
    assert not [p for p in (repository_dir / "te").iterdir() if p.name.startswith(".")]


def test_symlinks_inside_item_are_kept_and_links_to_other_items_copied(source, repository_dir):
    folder = b.folder_of(source, b.TE_A0)
    (folder / "data").mkdir()
    (folder / "data" / "table.txt").write_text("1 2 3\n")
    (folder / "table.txt").symlink_to("data/table.txt")
    (folder / "driver-runner").symlink_to(b.folder_of(source, b.TD_2020) / "runner")

    report = import_repository(source)

    assert report.rejected == []
    copied = storage.item_path(b.TE_A0)
    assert os.readlink(copied / "table.txt") == "data/table.txt"
    assert not (copied / "driver-runner").is_symlink()
    assert (copied / "driver-runner").read_text() == (b.folder_of(source, b.TD_2020) / "runner").read_text()


def test_import_time_of_the_fixture_repository(source, repository_dir, record_property):
    started = time.perf_counter()
    report = import_repository(source)
    elapsed = time.perf_counter() - started
    record_property("import_seconds", elapsed)
    assert len(report.created) == len(b.ALL_ITEMS)
    assert elapsed < 10, f"importing {len(b.ALL_ITEMS)} items took {elapsed:.2f} s"


class _Text:
    """A writable that keeps what a command printed."""

    def __init__(self):
        self.text = ""

    def write(self, text):
        self.text += text

    def flush(self):
        pass


def test_kim_collections_are_registered_before_the_folders(source, repository_dir, monkeypatch):
    # A stand-in for repository.installed (another module's job): it registers the model driver
    # that the repository's model names, which only works if it runs before the folders.
    installed = types.ModuleType("repository.installed")

    def register_installed_items():
        ModelDriver.objects.create(kim_id=b.MD, collection="system")
        return {"created": 1}

    installed.register_installed_items = register_installed_items
    monkeypatch.setitem(sys.modules, "repository.installed", installed)
    shutil.rmtree(source / "md")
    out = _Text()

    call_command("importrepo", str(source), "--kim-collections", "--no-progress", stdout=out)

    assert "KIM API collections: {'created': 1}" in out.text
    assert Model.objects.get(kim_id=b.MO).driver.collection == "system"


def test_progress_bar_goes_to_stderr(source, repository_dir, capsys):
    import_repository(source, progress=True)
    assert f"{len(b.ALL_ITEMS)}/{len(b.ALL_ITEMS)}" in capsys.readouterr().err


def test_result_folders_are_not_imported(repository_dir):
    b.build_source_repository(repository_dir)
    (repository_dir / "tr" / "TR_000000000001_000").mkdir(parents=True)
    (repository_dir / "te" / ".Half__TE_000000000001_000.x.partial").mkdir()

    report = import_repository(repository_dir)

    assert report.rejected == [] and len(report.created) == len(b.ALL_ITEMS)


def test_2012_check_needs_no_pipeline_out(source, repository_dir):
    b.item_2012(source, "TemplateCheck__VC_000000000090_000", pipeline_in="@MODELNAME\n")
    report = import_repository(source)
    assert report.rejected == []
    assert VerificationCheck.objects.get(number="000000000090").source_format == SourceFormat.KIM2012


@pytest.mark.kimapi
def test_kim_collections_with_the_real_kim_api(tmp_path, repository_dir):
    out = _Text()
    call_command("importrepo", str(repository_dir), "--kim-collections", "--no-progress", stdout=out)
    assert "KIM API collections: {" in out.text
    assert ModelDriver.objects.filter(collection__gt="").exists()
    assert "0 created, 0 updated, 0 unchanged, 0 rejected" in out.text


def test_command_line_exit_status_and_log_file(tmp_path):
    """The real ``manage.py importrepo`` in its own process, on its own SQLite database."""
    source = b.build_source_repository(tmp_path / "source")
    bad_folder, reason = _unparsable_json(source)
    env = {k: v for k, v in os.environ.items()
           if k not in {"DATABASE_URL", "TEST_DATABASE_URL", "REDIS_URL", "DJANGO_SETTINGS_MODULE"}}
    env.update(KIM_DIR=str(tmp_path / "kim"), KIM_REPOSITORY_DIR=str(tmp_path / "repository"),
               KIM_LOG_DIR=str(tmp_path / "logs"), SECRET_KEY="not-secret-test-key")
    manage = [sys.executable, str(b.PROJECT_DIR / "manage.py")]
    subprocess.run([*manage, "migrate", "-v", "0"], env=env, check=True, timeout=120)

    done = subprocess.run([*manage, "importrepo", str(source)], env=env, capture_output=True,
                          text=True, timeout=120)

    assert done.returncode == 1, done.stderr
    assert f"rejected {bad_folder}" in done.stderr and reason in done.stderr
    assert "importing" not in done.stderr  # no progress bar when stderr is not a terminal
    assert f"{len(b.ALL_ITEMS)} created, 0 updated, 0 unchanged, 1 rejected" in done.stdout
    assert reason in (tmp_path / "logs" / "pipeline.log").read_text()
    again = subprocess.run([*manage, "importrepo", str(tmp_path / "repository")], env=env,
                           capture_output=True, text=True, timeout=120)
    assert again.returncode == 0, again.stderr
    # In place, the copies hash like their sources: nothing to do.
    assert f"0 created, 0 updated, {len(b.ALL_ITEMS)} unchanged, 0 rejected" in again.stdout


def test_driver_known_under_another_name_is_found_by_lineage(source, repository_dir):
    shutil.rmtree(source / "md")
    ModelDriver.objects.create(kim_id="LennardJones612__MD_000000000020_000", collection="system")

    report = import_repository(source)

    assert report.rejected == []
    assert Model.objects.get(kim_id=b.MO).driver.kim_id == "LennardJones612__MD_000000000020_000"
