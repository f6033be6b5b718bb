"""repository.importer on small repositories built in each test, both formats: what lands where."""

import os
import shutil

import kim_edn
import pytest
from django.core.management import call_command

from repository import edn, storage
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
from tests.repository.builders import all_kim_ids, row_state

pytestmark = pytest.mark.django_db


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
    spec = edn.load(spec_path)
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
    spec = edn.load(spec_path)
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

def test_update_that_fails_leaves_old_row_and_folder(source, repository_dir):
    import_repository(source)
    old_copy = (storage.item_path(b.TE_A0) / "kimspec.edn").read_text()
    spec_path = b.folder_of(source, b.TE_A0) / "kimspec.edn"
    spec = edn.load(spec_path)
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

def test_driver_known_under_another_name_is_found_by_lineage(source, repository_dir):
    shutil.rmtree(source / "md")
    ModelDriver.objects.create(kim_id="LennardJones612__MD_000000000020_000", collection="system")

    report = import_repository(source)

    assert report.rejected == []
    assert Model.objects.get(kim_id=b.MO).driver.kim_id == "LennardJones612__MD_000000000020_000"
