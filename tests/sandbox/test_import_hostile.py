"""Hostile item folders: each is one rejection with its path and reason; the import goes on and
nothing of the bad item is written (no row, no folder)."""

import json
import os
import subprocess
import time

import pytest
from django.core.management import CommandError, call_command

from repository.importer import import_repository
from repository.importer.walk import clean_partial_folders
from tests.repository import builders as b
from tests.repository.builders import all_kim_ids

pytestmark = pytest.mark.django_db


@pytest.fixture
def source(tmp_path):
    return b.build_source_repository(tmp_path / "source")

TE = "Hostile_Ar__TE_000000018001_000"
TE_2012 = "Hostile2012_Ar__TE_000000018002_000"


def te_2020(source, **kimspec):
    fields = {"species": ["Ar"], "matching_models": ["standard-models"], "kim_api_version": "2.3"}
    return b.item_2020(source, TE, runner=True, template=True, **{**fields, **kimspec})


def te_2012(source, **metadata):
    return b.item_2012(source, TE_2012, pipeline_in="@MODELNAME\n", pipeline_out="",
                       species=["Ar"], **metadata)


def deep_kimspec(source):
    folder = te_2020(source)
    (folder / "kimspec.edn").write_text("[" * 10_000 + "]" * 10_000)
    return folder, "nested too deeply"


def deep_metadata(source):
    folder = te_2012(source)
    (folder / "metadata.json").write_text("[" * 10_000 + "]" * 10_000)
    return folder, "nested too deeply"


def timeout_1e999(source):
    folder = te_2020(source)
    text = (folder / "kimspec.edn").read_text()
    (folder / "kimspec.edn").write_text(text.rstrip().rstrip("}") + ' "timeout" 1e999}')
    return folder, "numbers must be finite"


def timeout_nan(source):
    folder = te_2012(source)
    (folder / "metadata.json").write_text('{"kim_code": "' + TE_2012 + '", "species": ["Ar"], "timeout": NaN}')
    return folder, "numbers must be finite"


def timeout_infinity(source):
    folder = te_2012(source)
    (folder / "metadata.json").write_text('{"kim_code": "' + TE_2012 + '", "timeout": Infinity}')
    return folder, "numbers must be finite"


def timeout_1e18(source):
    return te_2020(source, timeout=10 ** 18), "more than the cluster allows"


def symlink_loop(source):
    folder = te_2020(source)
    os.symlink("loop_b", folder / "loop_a")
    os.symlink("loop_a", folder / "loop_b")
    return folder, "symlink loop"


def non_utf8_file_name(source):
    folder = te_2020(source)
    with open(os.path.join(os.fsencode(folder), b"bad\xffname"), "w") as handle:
        handle.write("x")
    return folder, "not UTF-8"


def nested_folders(source):
    folder = te_2020(source)
    deep = os.fsencode(folder)
    for _ in range(1_500):  # os.makedirs would hit PATH_MAX: one level at a time, by fd
        deep = os.path.join(deep, b"d")
    fd = os.open(folder, os.O_RDONLY)
    for _ in range(1_500):
        os.mkdir("d", dir_fd=fd)
        fd, old = os.open("d", os.O_RDONLY, dir_fd=fd), fd
        os.close(old)
    os.close(fd)
    return folder, "nested deeper than"


def empty_species(source):
    return te_2020(source, species=[]), "'species' is empty"


def banana_api_version(source):
    return te_2020(source, kim_api_version="banana"), "not a KIM API version"


def huge_metadata(source):
    folder = te_2012(source)
    (folder / "metadata.json").write_text(json.dumps(
        {"kim_code": TE_2012, "species": ["Ar"], "description": "x" * (50 * 1024 ** 2)}))
    return folder, "PIPELINE_METADATA_LIMIT"


def nul_in_title(source):
    return te_2020(source, title="a\x00title"), "NUL character"


def runner_is_a_folder(source):
    folder = te_2020(source)
    (folder / "runner").unlink()
    (folder / "runner").mkdir()
    return folder, "runner is a folder, not a file"


def depends_on_itself(source):
    return te_2020(source, files={"dependencies.edn": f'["{TE}"]'}), "dependency cycle"


HOSTILE = [deep_kimspec, deep_metadata, timeout_1e999, timeout_nan, timeout_infinity,
           timeout_1e18, symlink_loop, non_utf8_file_name, nested_folders, empty_species,
           banana_api_version, huge_metadata, nul_in_title, runner_is_a_folder,
           depends_on_itself]


@pytest.mark.parametrize("make", HOSTILE, ids=lambda f: f.__name__)
def test_a_hostile_item_is_rejected_alone_and_the_import_goes_on(make, source, repository_dir):
    folder, reason = make(source)
    try:
        report = import_repository(source)
        rejected = dict(report.rejected)
        assert folder in rejected, report.rejected
        assert reason in rejected[folder], rejected[folder]
        assert sorted(report.created) == sorted(b.ALL_ITEMS)
        assert all_kim_ids() == set(b.ALL_ITEMS)
        assert not (repository_dir / folder.parent.name / folder.name).exists()
        assert not list(repository_dir.glob("*/.*.partial"))
    finally:
        # GNU rm walks any depth; pytest's own clean-up of old tmp folders recurses and would
        # end a later session with a RecursionError on 1,500 levels. Also when a check failed.
        subprocess.run(["rm", "-rf", str(folder)], check=True)


def test_a_two_test_cycle_is_refused_as_a_cycle(source, repository_dir):
    one, two = "CycleOne_Ar__TE_000000018011_000", "CycleTwo_Ar__TE_000000018012_000"
    for me, other in ((one, two), (two, one)):
        b.item_2020(source, me, runner=True, template=True, species=["Ar"],
                    kim_api_version="2.3", files={"dependencies.edn": f'["{other}"]'})
    report = import_repository(source)
    reasons = {folder.name: reason for folder, reason in report.rejected}
    assert set(reasons) == {one, two}
    assert all("dependency cycle" in reason and one in reason and two in reason
               for reason in reasons.values()), reasons
    assert sorted(report.created) == sorted(b.ALL_ITEMS)


def test_a_stale_partial_folder_is_removed_by_the_next_import(source, repository_dir):
    left = repository_dir / "te" / f".{b.TE_A0}.abc123.partial"
    left.mkdir(parents=True)
    (left / "runner").write_text("half")
    fresh = repository_dir / "tr" / ".TR_000000000001_000.xyz.partial"
    fresh.mkdir(parents=True)
    hour_ago = time.time() - 7200
    os.utime(left, (hour_ago, hour_ago))
    import_repository(source)
    assert not left.exists()
    assert fresh.exists()  # a writer may still be at work on a fresh one
    assert clean_partial_folders(repository_dir, older_than=0) == [fresh]


@pytest.mark.parametrize(("where", "words"), [("file", "this is a file"),
                                               ("/", "not a KIM repository")])
def test_importrepo_of_a_file_or_of_the_root_says_what_is_wrong(tmp_path, repository_dir, where,
                                                                words):
    path = tmp_path / "notes.txt" if where == "file" else "/"
    if where == "file":
        path.write_text("not a repository")
    with pytest.raises(CommandError, match=words):
        call_command("importrepo", str(path), "--no-progress")
