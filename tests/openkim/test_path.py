"""path(id) and @PATH[id] as OpenKIM means them: an item's executable when it has one, else its folder."""

import pytest

from repository import storage
from runner.template import render_text
from runner.template.render_globals import item_executable
from tests.factories import make_model, make_test

pytestmark = pytest.mark.django_db


def folder_with(kim_id: str, files: dict):
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
