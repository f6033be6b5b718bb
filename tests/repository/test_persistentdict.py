"""PersistentDict and the atomic writes under it: readers see the old file or the new, never a half."""

import json
import os

import pytest

from repository import storage
from repository.persistentdict import PersistentDict


def test_round_trip_through_the_file(tmp_path):
    path = tmp_path / "metadata.json"
    with PersistentDict(path) as info:
        info["kim_code"] = "LJ_Ar__MO_000000000030_000"
        info["species"] = ["Ar"]
    assert json.loads(path.read_text()) == {"kim_code": "LJ_Ar__MO_000000000030_000", "species": ["Ar"]}
    assert PersistentDict(path) == {"kim_code": "LJ_Ar__MO_000000000030_000", "species": ["Ar"]}


def test_read_only_never_writes_and_new_ignores_the_file(tmp_path):
    path = tmp_path / "metadata.json"
    path.write_text('{"title": "old"}')
    with PersistentDict(path, flag="r") as info:
        info["title"] = "changed in memory only"
    assert json.loads(path.read_text()) == {"title": "old"}
    assert PersistentDict(path, flag="n") == {}


def test_failing_dump_leaves_the_old_file_and_no_temporary(tmp_path):
    path = tmp_path / "metadata.json"
    path.write_text('{"title": "old"}\n')
    info = PersistentDict(path)
    info["bad"] = object()  # not JSON: the dump fails
    with pytest.raises(TypeError):
        info.sync()
    assert path.read_text() == '{"title": "old"}\n'
    assert [p.name for p in tmp_path.iterdir()] == ["metadata.json"]


def test_failure_while_writing_leaves_the_old_file(tmp_path, monkeypatch):
    path = tmp_path / "metadata.json"
    path.write_text('{"title": "old"}\n')

    def full_disk(fd):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", full_disk)
    with pytest.raises(OSError, match="No space"):
        PersistentDict(path).sync()
    assert path.read_text() == '{"title": "old"}\n'
    assert [p.name for p in tmp_path.iterdir()] == ["metadata.json"]


def test_mode_is_applied(tmp_path):
    path = tmp_path / "private.json"
    with PersistentDict(path, mode=0o600) as info:
        info["a"] = 1
    assert path.stat().st_mode & 0o777 == 0o600


def test_file_that_is_not_json_is_refused_with_its_path(tmp_path):
    path = tmp_path / "metadata.json"
    path.write_text("not json")
    with pytest.raises(ValueError, match=str(path)):
        PersistentDict(path)
    with pytest.raises(ValueError, match="flag"):
        PersistentDict(path, flag="w")


def test_swap_in_folder_and_restore(tmp_path):
    final = tmp_path / "te" / "A__TE_000000000001_000"
    final.mkdir(parents=True)
    (final / "old").write_text("old")
    staging = storage.staging_folder(final)
    (staging / "new").write_text("new")

    aside = storage.swap_in_folder(staging, final)

    assert [p.name for p in final.iterdir()] == ["new"]
    storage.restore_folder(final, aside)
    assert [p.name for p in final.iterdir()] == ["old"]
    assert [p.name for p in final.parent.iterdir()] == [final.name]


def test_publish_never_overwrites(tmp_path):
    final = tmp_path / "tr" / "TR_000000000001_000"
    staging = storage.staging_folder(final)
    storage.publish_folder(staging, final)
    with pytest.raises(FileExistsError):
        storage.publish_folder(storage.staging_folder(final), final)
