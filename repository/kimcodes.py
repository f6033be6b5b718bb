"""KIM IDs: parse, validate and format ``Name__LL_DDDDDDDDDDDD_VVV`` and its short forms."""

import re
import secrets
from dataclasses import dataclass

from repository.errors import InvalidKIMID

#: Leader → kind of item (KIM-FACTS.md; VM is the 2012 worker image, kept for provenance).
LEADERS = {
    "TE": "Test",
    "TD": "Test Driver",
    "MO": "Model",
    "MD": "Model Driver",
    "SM": "Simulator Model",
    "VC": "Verification Check",
    "RD": "Reference Datum",
    "PR": "Property",
    "TR": "Test Result",
    "VR": "Verification Result",
    "ER": "Error",
    "VM": "Virtual Machine",
}
RESULT_LEADERS = ("TR", "VR", "ER")

_NAME = r"[A-Za-z_][A-Za-z0-9_]*?"
_KIMID_RE = re.compile(
    rf"(?:(?P<name>{_NAME})__)?(?P<leader>[A-Z]{{2}})_(?P<number>[0-9]{{12}})(?:_(?P<version>[0-9]{{3}}))?"
)
#: Finds KIM IDs inside longer text (templates, file lists), not anchored.
KIMID_SEARCH_RE = re.compile(
    rf"\b(?:{_NAME}__)?[A-Z]{{2}}_[0-9]{{12}}(?:_[0-9]{{3}})?\b"
)


@dataclass(frozen=True, slots=True)
class KIMCode:
    """One parsed KIM ID. ``name`` and ``version`` are None in the short forms."""

    leader: str
    number: str
    version: int | None = None
    name: str | None = None

    @property
    def lineage(self) -> tuple[str, str]:
        """What every version of one item shares."""
        return (self.leader, self.number)

    @property
    def short(self) -> str:
        """``LL_DDDDDDDDDDDD`` (no name, no version)."""
        return f"{self.leader}_{self.number}"

    def with_name(self, name: str | None) -> "KIMCode":
        return KIMCode(self.leader, self.number, self.version, name)

    def __str__(self) -> str:
        return format_kim_code(self.name, self.leader, self.number, self.version)


def parse_kim_code(text: str, *, leader: str | None = None, require_version: bool = False,
                   require_name: bool = False) -> KIMCode:
    """Parse any form of KIM ID; raise InvalidKIMID naming the offending text."""
    if not isinstance(text, str):
        raise InvalidKIMID(f"a KIM ID must be text, not {type(text).__name__}: {text!r}")
    match = _KIMID_RE.fullmatch(text.strip()) if text.strip() == text else None
    if match is None:
        raise InvalidKIMID(f"malformed KIM ID {text!r}: expected Name__LL_DDDDDDDDDDDD_VVV "
                           "(the name and the version may be left out)")
    code_leader = match["leader"]
    if code_leader not in LEADERS:
        raise InvalidKIMID(f"unknown leader {code_leader!r} in KIM ID {text!r}; "
                           f"known leaders: {', '.join(LEADERS)}")
    if leader is not None and code_leader not in _as_tuple(leader):
        raise InvalidKIMID(f"KIM ID {text!r} has leader {code_leader}, "
                           f"expected {' or '.join(_as_tuple(leader))}")
    if require_version and match["version"] is None:
        raise InvalidKIMID(f"KIM ID {text!r} has no version (_VVV)")
    if require_name and match["name"] is None:
        raise InvalidKIMID(f"KIM ID {text!r} has no name (Name__)")
    version = int(match["version"]) if match["version"] is not None else None
    return KIMCode(code_leader, match["number"], version, match["name"])


def parse_item_folder_name(text: str, *, format_2012: bool = False) -> KIMCode:
    """An item folder's name: a full KIM ID, with its version.

    A 2012 folder's name may lack the name: the 2012 RE_KIMID made it optional, and 2012
    property codes such as ``PR_044492852008_000`` had none.
    """
    return parse_kim_code(text, require_version=True, require_name=not format_2012)


def _as_tuple(leader) -> tuple[str, ...]:
    return (leader,) if isinstance(leader, str) else tuple(leader)


def is_kim_code(text: str) -> bool:
    try:
        parse_kim_code(text)
    except InvalidKIMID:
        return False
    return True


def format_kim_code(name: str | None, leader: str, number: str | int, version: int | None) -> str:
    """The inverse of parse_kim_code: full form with a name, short forms without."""
    if leader not in LEADERS:
        raise InvalidKIMID(f"unknown leader {leader!r}")
    number_text = f"{int(number):012d}" if isinstance(number, int) else number
    if not re.fullmatch(r"[0-9]{12}", number_text):
        raise InvalidKIMID(f"the number of a KIM ID has 12 digits, not {number_text!r}")
    text = f"{leader}_{number_text}"
    if version is not None:
        if not 0 <= int(version) <= 999:
            raise InvalidKIMID(f"a KIM ID version has 3 digits, not {version!r}")
        text += f"_{int(version):03d}"
    if name:
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
            raise InvalidKIMID(f"malformed KIM ID name {name!r}")
        text = f"{name}__{text}"
    return text


def strip_version(text: str) -> str:
    """``Name__TE_000000000001_002`` → ``Name__TE_000000000001`` (the lineage, for templates)."""
    code = parse_kim_code(text)
    return format_kim_code(code.name, code.leader, code.number, None)


def new_result_code(leader: str, exists=lambda code: False) -> KIMCode:
    """A fresh ``TR/VR/ER_DDDDDDDDDDDD_000`` drawn at random, re-drawn while ``exists``."""
    if leader not in RESULT_LEADERS:
        raise InvalidKIMID(f"results have leader TR, VR or ER, not {leader!r}")
    while True:
        code = KIMCode(leader, f"{secrets.randbelow(10**12):012d}", 0)
        if not exists(str(code)):
            return code
