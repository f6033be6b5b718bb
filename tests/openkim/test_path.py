"""path(id) and @PATH[id] as OpenKIM means them: an item's executable when it has one, else its folder."""

import pytest

from repository import storage
from repository.errors import PipelineTemplateError
from repository.importer import import_repository
from repository.models import MODEL_FOR_LEADER
from runner.template import render_text
from runner.template.render_globals import RenderState, item_executable
from tests.factories import make_model, make_test

pytestmark = pytest.mark.django_db


def folder_with(kim_id: str, files: dict, *, row: bool = True):
    """An item folder in the repository and (``row``) its item row, as importrepo leaves them."""
    if row:
        MODEL_FOR_LEADER[kim_id.split("__")[1][:2]].objects.create(kim_id=kim_id)
    folder = storage.item_path(kim_id)
    folder.mkdir(parents=True)
    for name, text in files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(text)
    return folder.resolve()


@pytest.fixture
def render(repository_dir):
    test, model = make_test(), make_model()

    def rendered(source: str, syntax: str = "2020") -> str:
        return render_text(source, test, model, syntax=syntax).text

    return rendered


def test_a_test_driver_s_path_is_its_runner(render):
    folder = folder_with("Driver__TD_000000007401_000", {
        "kimspec.edn": '{"extended-id" "Driver__TD_000000007401_000" "executables" ["runner"]}',
        "runner": "#!/bin/sh\n"})
    assert render('@< path("TD_000000007401") >@') == str(folder / "runner")
    # The 2012 directive means the same.
    assert render("@PATH[Driver__TD_000000007401_000]", syntax="2012") == str(folder / "runner")


def test_the_first_declared_executable_is_the_one(render):
    folder = folder_with("Two__TD_000000007402_000", {
        "kimspec.edn": '{"extended-id" "Two__TD_000000007402_000" "executables" ["bin/main" "runner"]}',
        "runner": "#!/bin/sh\n", "bin/main": "#!/bin/sh\n"})
    assert render('@< path("TD_000000007402") >@') == str(folder / "bin" / "main")


def test_without_executables_the_runner_and_with_none_declared_the_folder(render):
    undeclared = folder_with("Undeclared__TD_000000007403_000", {
        "kimspec.edn": '{"extended-id" "Undeclared__TD_000000007403_000"}', "runner": "#!/bin/sh\n"})
    assert render('@< path("TD_000000007403") >@') == str(undeclared / "runner")
    library = folder_with("Library__TD_000000007404_000", {
        "kimspec.edn": '{"extended-id" "Library__TD_000000007404_000" "executables" []}',
        "runner": "#!/bin/sh\n", "module.py": ""})
    assert render('@< path("TD_000000007404") >@') == str(library)


def test_a_model_s_path_is_its_folder(render):
    folder = folder_with("LJ_Ar__MO_000000007405_000", {
        "kimspec.edn": '{"extended-id" "LJ_Ar__MO_000000007405_000"}', "CMakeLists.txt": ""})
    assert render('@< path("MO_000000007405") >@') == str(folder)


def test_a_2012_driver_s_path_is_its_program_named_like_its_folder(render):
    folder = folder_with("Old__TD_000000007406_000", {"metadata.json": "{}",
                                                      "Old__TD_000000007406_000": "#!/bin/sh\n"})
    assert render('@< path("TD_000000007406") >@') == str(folder / folder.name)
    assert render("@PATH[TD_000000007406]", syntax="2012") == str(folder / folder.name)
    bare = folder_with("Bare__TD_000000007407_000", {"metadata.json": "{}"})
    assert render("@PATH[TD_000000007407]", syntax="2012") == str(bare)


def test_an_executables_entry_never_leads_out_of_the_item(repository_dir, tmp_path):
    (tmp_path / "outside").write_text("#!/bin/sh\n")
    folder = folder_with("Sly__TD_000000007408_000", {
        "kimspec.edn": '{"extended-id" "Sly__TD_000000007408_000" "executables" ["../../../outside"]}'})
    assert item_executable(folder, "Sly__TD_000000007408_000") is None


def test_a_folder_rejected_in_place_is_not_handed_out(render, repository_dir):
    """importrepo leaves a rejected folder where it is, with no row: path() refuses it."""
    spec = ('{"extended-id" "Rejected__TD_000000007409_000" "kim-api-version" "banana" '
            '"executables" ["runner"]}')
    folder_with("Rejected__TD_000000007409_000", {"kimspec.edn": spec, "runner": "#!/bin/sh\n"},
                row=False)
    report = import_repository()
    assert any("Rejected__TD_000000007409_000" in str(r) for r in report.rejected), report
    assert (repository_dir / "td" / "Rejected__TD_000000007409_000" / "runner").is_file()
    for call in ('@< path("TD_000000007409") >@', '@< path("Rejected__TD_000000007409_000") >@'):
        with pytest.raises(PipelineTemplateError, match="TD_000000007409.* is not imported: its "
                           "folder Rejected__TD_000000007409_000 is in the repository"):
            render(call)
    with pytest.raises(PipelineTemplateError, match="is not imported"):
        render("@PATH[TD_000000007409]", syntax="2012")


def test_without_a_version_the_latest_imported_one_not_the_latest_folder(render):
    imported = folder_with("Versions__TD_000000007410_000", {"runner": "#!/bin/sh\n"})
    folder_with("Versions__TD_000000007410_001", {"runner": "#!/bin/sh\n"}, row=False)
    assert render('@< path("TD_000000007410") >@') == str(imported / "runner")
    with pytest.raises(PipelineTemplateError, match="_001 is not imported"):
        render('@< path("Versions__TD_000000007410_001") >@')


def test_an_item_of_no_folder_or_no_row_at_all_is_refused_naming_it(render):
    MODEL_FOR_LEADER["TD"].objects.create(kim_id="Gone__TD_000000007411_000")
    with pytest.raises(PipelineTemplateError, match="Gone__TD_000000007411_000 has no folder"):
        render('@< path("TD_000000007411") >@')
    with pytest.raises(PipelineTemplateError,
                       match="TD_000000007412 is not imported: no item of that code"):
        render('@< path("TD_000000007412") >@')


def test_a_path_call_is_one_query(repository_dir, django_assert_num_queries):
    folder = folder_with("Quick__TD_000000007413_000", {"runner": "#!/bin/sh\n"})
    state = RenderState(make_test(), make_model())
    with django_assert_num_queries(1):
        assert state.path("TD_000000007413") == str(folder / "runner")
