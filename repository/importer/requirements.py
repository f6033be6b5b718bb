"""A driver's ``requirements.txt`` checked against the environment that runs tests.

OpenKIM's drivers list the Python packages they import (pip's format). The pipeline does not
install them: what the worker environment lacks is said at import, as a warning naming the
requirement, so a curator learns before the first run fails (then an ``environment`` Error).
"""

from importlib import metadata
from pathlib import Path

from packaging.requirements import InvalidRequirement, Requirement

REQUIREMENTS_FILE = "requirements.txt"


def requirement_lines(text: str) -> list[tuple[int, str]]:
    """(line number, requirement) of each line that states one: no comments, pip options or blanks."""
    found = []
    for number, line in enumerate(text.splitlines(), 1):
        line = line.split(" #", 1)[0].strip()
        if line and not line.startswith(("#", "-")):
            found.append((number, line))
    return found


def unmet(requirement: Requirement) -> str | None:
    """Why the installed environment does not satisfy ``requirement``, or None when it does."""
    if requirement.marker is not None and not requirement.marker.evaluate():
        return None  # meant for another platform or Python
    if requirement.url:
        return f"{requirement} is a URL requirement, which the pipeline cannot check"
    try:
        installed = metadata.version(requirement.name)
    except metadata.PackageNotFoundError:
        return f"{requirement} is not installed in the worker environment"
    if requirement.specifier and not requirement.specifier.contains(installed, prereleases=True):
        return f"{requirement} is not met: the worker environment has {requirement.name} {installed}"
    return None


def unmet_requirements(folder: Path) -> list[str]:
    """The warnings of an item folder's ``requirements.txt``: one per requirement not met."""
    path = Path(folder) / REQUIREMENTS_FILE
    if not path.is_file():
        return []
    warnings = []
    text = path.read_text(encoding="utf-8", errors="replace")
    for number, line in requirement_lines(text):
        try:
            reason = unmet(Requirement(line))
        except InvalidRequirement as exc:
            reason = f"{line!r} is not a requirement pip understands: {exc}"
        if reason:
            warnings.append(f"{REQUIREMENTS_FILE} line {number}: {reason}")
    return warnings
