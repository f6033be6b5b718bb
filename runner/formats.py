"""The 2012 and 2020 item formats: one object each, so no other module tests ``source_format``.

A format says which file is the input template, what the rendered input is called in the run's
folder, which template syntax it uses, where the executable is and how results are read.
"""

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from kimsite import config
from repository.models import SourceFormat
from runner import reading


@dataclass(frozen=True)
class Format:
    name: str  # "2020" | "2012"
    template_file: str  # the input template in the item folder
    rendered_file: str  # the rendered input in the run's folder, fed as stdin
    syntax: str  # template syntax for runner.template: "2020" | "2012"
    _executable: Callable[[Path], Path]
    _read: Callable[[reading.Run], reading.Reading]

    def executable(self, folder: Path) -> Path:
        """The program of an item folder (or of a copy named like the item)."""
        return self._executable(Path(folder))

    def executable_name(self, item) -> str:
        return self.executable(Path(item.path)).name

    def read_results(self, run: reading.Run) -> reading.Reading:
        """What the run left, as property instances; raises NoResults / InvalidResults."""
        return self._read(run)


FORMAT_2020 = Format(
    name="2020", template_file=config.TEMPLATE_FILE, rendered_file=config.STDIN_FILE,
    syntax="2020", _executable=lambda folder: folder / config.RUNNER_FILE,
    _read=reading.read_2020,
)
FORMAT_2012 = Format(
    # 2012: the executable is named like its folder (the item's KIM ID).
    name="2012", template_file=config.INPUT_FILE, rendered_file=config.TEMP_INPUT_FILE,
    syntax="2012", _executable=lambda folder: folder / folder.name,
    _read=reading.read_2012,
)
FORMATS = {f.name: f for f in (FORMAT_2020, FORMAT_2012)}


def of(item) -> Format:
    """The format of a runner item (anything else than "2012" is the 2020 format)."""
    return FORMAT_2012 if getattr(item, "source_format", "") == SourceFormat.KIM2012 else FORMAT_2020


__all__ = ["Format", "of", "FORMAT_2012", "FORMAT_2020", "FORMATS"]
