"""repository.edn, the one EDN reader: text is text, files are read by path, errors say where."""

import kim_edn
import pytest

from repository import edn
from repository.errors import PipelineEDNError, PipelineError


def test_loads_parses_edn_text():
    assert edn.loads('{"a" [1 2.5 "x"] "b" true}') == {"a": [1, 2.5, "x"], "b": True}


def test_loads_refuses_text_that_is_the_path_of_a_file(tmp_path):
    elsewhere = tmp_path / "elsewhere.edn"
    elsewhere.write_text('["TE_000000000001"]')
    # What the project's reader must not do: kim_edn.load takes a string naming a file for
    # that file, so a caller handing it EDN text read another file.
    assert kim_edn.load(str(elsewhere)) == ["TE_000000000001"]

    with pytest.raises(PipelineEDNError) as caught:
        edn.loads(f"  {elsewhere}\n", path=tmp_path / "dependencies.edn", kim_id="X__TE_000000000002_000")

    message = str(caught.value)
    assert "is the path of a file" in message and str(elsewhere) in message
    assert "dependencies.edn" in message and "X__TE_000000000002_000" in message
    assert isinstance(caught.value, PipelineError)


def test_load_reads_the_file_and_names_path_and_line_when_it_does_not_parse(tmp_path):
    good = tmp_path / "kimspec.edn"
    good.write_text('{"extended-id" "A__TE_000000000001_000"}')
    assert edn.load(good) == {"extended-id": "A__TE_000000000001_000"}

    bad = tmp_path / "broken.edn"
    bad.write_text('{"a" 1\n "b" ')
    with pytest.raises(PipelineEDNError) as caught:
        edn.load(bad, kim_id="A__TE_000000000001_000")
    assert caught.value.line == 2
    assert f"path {bad}" in str(caught.value) and "line 2" in str(caught.value)
    assert caught.value.reason.startswith("broken.edn is not valid EDN")


def test_load_of_a_missing_or_binary_file_is_a_named_edn_error(tmp_path):
    with pytest.raises(PipelineEDNError, match="nowhere.edn cannot be read"):
        edn.load(tmp_path / "nowhere.edn")
    binary = tmp_path / "binary.edn"
    binary.write_bytes(b"\xff\xfe[1]")
    with pytest.raises(PipelineEDNError, match="binary.edn is not UTF-8"):
        edn.load(binary)


def test_loads_takes_utf8_bytes_and_refuses_other_objects():
    assert edn.loads(b"[1]") == [1]
    with pytest.raises(PipelineEDNError, match="not text"):
        edn.loads(None)
    with pytest.raises(PipelineEDNError, match="not UTF-8"):
        edn.loads(b"\xff[1]")
