"""Any KIM ID to its row (the seed's ``kim_obj``), by exact ID parts, never a LIKE scan.

What a person types is also understood when it is unambiguous: a name without its code, a
bare 12-digit number, a lower-case leader. A miss says what does exist: the item with a
nearby number or a similar name, the versions an item has, or the kind the number belongs to.
"""

import difflib
import re

from repository import kimcodes
from repository.errors import InvalidKIMID, PipelineSearchError
from repository.models.items import (
    Model,
    ModelDriver,
    Property,
    ReferenceDatum,
    Test,
    TestDriver,
    VerificationCheck,
)
from repository.models.outcomes import Error, Outcome, TestResult, VerificationResult

#: Leader → Django model, for kim_obj() and the importer.
MODEL_FOR_LEADER = {
    "TE": Test,
    "TD": TestDriver,
    "MO": Model,
    "SM": Model,
    "MD": ModelDriver,
    "PR": Property,
    "RD": ReferenceDatum,
    "VC": VerificationCheck,
    "TR": TestResult,
    "VR": VerificationResult,
    "ER": Error,
}

ITEM_TABLES = (Test, TestDriver, Model, ModelDriver, VerificationCheck, Property, ReferenceDatum)

_LOWER_LEADER = re.compile(r"(?:(?P<name>.+)__)?(?P<leader>[A-Za-z]{2})_(?P<rest>[0-9]{12}(?:_[0-9]{3})?)")


_LOOKS_LIKE_CODE = re.compile(r"(?:^|_)[A-Za-z]{2}_[0-9]")


def _parse_error(text) -> InvalidKIMID:
    try:
        kimcodes.parse_kim_code(text)
    except InvalidKIMID as exc:
        return exc
    return InvalidKIMID(f"malformed KIM ID {text!r}")


def kind_of(leader: str) -> str:
    return kimcodes.LEADERS.get(leader, leader).lower()


def kim_obj(text: str):
    """The item or result any KIM ID names (the seed's ``kim_obj``); no version → latest.

    Items: by leader, number and version (and the name when given). Results and errors carry
    no name: by their exact ``kim_id`` (a name in ``text`` is ignored). Text that is not a
    KIM ID is tried as a person means it (``understood``); a miss suggests what exists.
    """
    try:
        code = kimcodes.parse_kim_code(text)
    except InvalidKIMID:
        return understood(text)
    try:
        model_class = MODEL_FOR_LEADER[code.leader]
    except KeyError:
        raise PipelineSearchError(f"no kind of item has leader {code.leader}", kim_id=text) from None
    if issubclass(model_class, Outcome):
        item = model_class.objects.matching_code(str(code.with_name(None))).order_by("-kim_id").first()
        if item is None:
            raise not_found(text, code)
        return item
    item = model_class.objects.filter(leader=code.leader).matching_code(text).order_by("-version").first()
    if item is None:
        raise not_found(text, code)
    return item


def understood(text: str):
    """A lower-case leader, a bare number or a bare name, when exactly one item answers."""
    cleaned = str(text).strip()
    parts = _LOWER_LEADER.fullmatch(cleaned)
    if parts and parts["leader"].upper() in kimcodes.LEADERS and parts["leader"] != parts["leader"].upper():
        fixed = (f"{parts['name']}__" if parts["name"] else "") + f"{parts['leader'].upper()}_{parts['rest']}"
        return kim_obj(fixed)
    if re.fullmatch(r"[0-9]{12}", cleaned):
        found = _latest_of([row for table in ITEM_TABLES for row in table.objects.filter(number=cleaned)])
        what = f"number {cleaned}"
    elif re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", cleaned) and not _LOOKS_LIKE_CODE.search(cleaned):
        found = _latest_of([row for table in ITEM_TABLES
                            for row in table.objects.filter(name__iexact=cleaned)])
        what = f"name {cleaned}"
    else:
        # Neither an ID, a number nor a name: the parser's own message says what a KIM ID is.
        raise _parse_error(text)
    if len(found) == 1:
        return found[0]
    if not found:
        near = _similar_names(cleaned) if not cleaned.isdigit() else []
        hint = f"; did you mean {_or(near)}?" if near else ""
        raise PipelineSearchError(f"no item has the {what}{hint}")
    raise PipelineSearchError(f"the {what} is ambiguous: {_or([f.kim_id for f in found])}; "
                              "give the full KIM ID")


def _latest_of(rows: list) -> list:
    """The latest version of each lineage among ``rows``."""
    best: dict = {}
    for row in rows:
        key = (row.leader, row.number)
        if key not in best or row.version > best[key].version:
            best[key] = row
    return sorted(best.values(), key=lambda r: r.kim_id)


def _or(names: list[str]) -> str:
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " or " + names[-1]


def _similar_names(name: str, limit: int = 3) -> list[str]:
    names = {row.name: row.kim_id for table in ITEM_TABLES
             for row in table.objects.latest_versions().only("name", "kim_id")}
    close = difflib.get_close_matches(name, list(names), n=limit, cutoff=0.75)
    return [names[n] for n in close]


def _near_numbers(model_class, code, limit: int = 3) -> list:
    """Items of the same kind whose number differs from ``code``'s in one or two digits."""
    if issubclass(model_class, Outcome):
        return []
    rows = model_class.objects.filter(leader=code.leader).latest_versions().only(
        "kim_id", "name", "number", "version")

    def distance(number: str) -> int:
        return sum(a != b for a, b in zip(number, code.number, strict=True))

    near = sorted((distance(r.number), r.kim_id, r) for r in rows if distance(r.number) <= 2)
    return [r for _, _, r in near[:limit]]


def not_found(text: str, code) -> PipelineSearchError:
    """Why nothing answers to ``text``, with what does exist."""
    model_class = MODEL_FOR_LEADER[code.leader]
    kind = kind_of(code.leader)
    asked = code.short if code.version is None else f"{code.short}_{code.version:03d}"
    if not issubclass(model_class, Outcome):
        lineage = list(model_class.objects.filter(leader=code.leader, number=code.number)
                       .order_by("version"))
        if lineage:
            versions = ", ".join(f"{row.version:03d}" for row in lineage)
            if code.version is not None and all(row.version != code.version for row in lineage):
                return PipelineSearchError(f"{lineage[-1].name or code.short} has no version "
                                           f"{code.version:03d}; its versions: {versions}")
            return PipelineSearchError(f"no {kind} named {code.name} has the number {code.number}; "
                                       f"it is {lineage[-1].kim_id}")
    elsewhere = [row for table in ITEM_TABLES for row in table.objects.filter(number=code.number)]
    elsewhere = [row for row in _latest_of(elsewhere) if row.leader != code.leader]
    if elsewhere:
        other = elsewhere[0]
        return PipelineSearchError(f"no {kind} {asked}; {other.leader}_{other.number} is a "
                                   f"{kind_of(other.leader)}: {other.kim_id}")
    near = _near_numbers(model_class, code)
    if not near and code.name:
        near = [row for row in (kim_obj_or_none(k) for k in _similar_names(code.name))
                if row is not None and row.leader == code.leader]
    if near:
        hint = _or([f"{r.leader}_{r.number} ({r.name})" if r.name else r.kim_id for r in near])
        return PipelineSearchError(f"no {kind} {asked}; did you mean {hint}?")
    return PipelineSearchError(f"no {kind} {asked}")


def kim_obj_or_none(text: str):
    try:
        return kim_obj(text)
    except PipelineSearchError:
        return None
