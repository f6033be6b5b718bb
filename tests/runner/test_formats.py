"""runner.formats: what differs between the 2012 and 2020 item formats, in one object each."""

from pathlib import Path

import pytest

from repository.models import SourceFormat, Test, TestDriver
from runner import formats, reading


@pytest.mark.parametrize(("source_format", "template", "rendered", "executable", "reader"), [
    (SourceFormat.KIM2020, "pipeline.stdin.tpl", "pipeline.stdin", "runner", reading.read_2020),
    (SourceFormat.KIM2012, "pipeline.in", "pipeline.in.tmp", "Lattice__TE_000000000101_000",
     reading.read_2012),
])
def test_each_format_names_its_files_and_its_reader(source_format, template, rendered, executable,
                                                    reader):
    test = Test(kim_id="Lattice__TE_000000000101_000", source_format=source_format)
    found = formats.of(test)
    assert (found.name, found.syntax) == (str(source_format), str(source_format))
    assert (found.template_file, found.rendered_file) == (template, rendered)
    folder = Path("/repository/te/Lattice__TE_000000000101_000")
    assert found.executable(folder) == folder / executable
    assert found.executable_name(test) == executable
    assert found._read is reader


def test_an_item_without_a_source_format_is_a_2020_item():
    # Test drivers built from source and installed items carry no 2012 marker.
    assert formats.of(TestDriver(kim_id="D__TD_000000000401_000")) is formats.FORMAT_2020
    assert formats.of(object()) is formats.FORMAT_2020
