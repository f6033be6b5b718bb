"""The part of a MongoDB filter that SQL can answer from indexed columns: a superset of the
matching documents, narrowed by the keys typical queries name (subject, runner, property).

Only conditions whose SQL meaning is exactly MongoDB's are translated (equality, ``$in`` of
strings, ``$regex`` in the subset of syntax where PostgreSQL's regex and Python's agree; on
SQLite, Django's REGEXP *is* Python's ``re``). Everything is then checked again in Python by
``matcher``, so a condition left out here only costs rows read, never a wrong answer.
"""

import re

from django.db.models import Q

#: Filter keys held in a column, by database.
COLUMNS = {
    "data": {"meta.subject.kimcode": "subject_kimcode", "meta.runner.kimcode": "runner_kimcode",
             "property-id": "property_id", "meta.uuid": "source", "meta.type": "kind"},
    "obj": {"kimcode": "source", "extended-id": "source", "type": "kind"},
}

#: Regex syntax both engines read alike: literals, classes, counts, anchors, groups, \d \w \s.
_PORTABLE_REGEX = re.compile(r"(?:[A-Za-z0-9_\-.:/@,*+?\[\]{}^$|()~= ]|\\[dwsDWS.\-_/\[\](){}^$|*+?])*")


def _portable(pattern: str) -> bool:
    return _PORTABLE_REGEX.fullmatch(pattern) is not None and "(?" not in pattern


def _column_condition(column: str, condition) -> tuple[Q | None, bool]:
    """(the SQL of ``{key: condition}`` or None, whether that SQL is all of the condition)."""
    if isinstance(condition, str):
        return Q(**{column: condition}), True
    if not isinstance(condition, dict):
        return None, False
    found, exact = Q(), bool(condition)
    for name, argument in condition.items():
        if name == "$eq" and isinstance(argument, str):
            found &= Q(**{column: argument})
        elif name == "$in" and isinstance(argument, list) and argument and all(
                isinstance(a, str) for a in argument):
            found &= Q(**{f"{column}__in": argument})
        elif name == "$regex" and isinstance(argument, str) and _portable(argument) and (
                condition.get("$options", "") in ("", "i")):
            lookup = "regex" if condition.get("$options", "") == "" else "iregex"
            found &= Q(**{f"{column}__{lookup}": argument})
        elif name != "$options":
            exact = False
    return found, exact


def sql_prefilter(query: dict, database: str) -> tuple[Q, bool]:
    """(a Q over QueryDocument's columns that every document matching ``query`` satisfies,
    whether it says all the query says — then SQL alone answers a count)."""
    columns = COLUMNS.get(database, {})
    found, exact = Q(), True
    conjuncts = [query]
    if isinstance(query.get("$and"), list):
        conjuncts += [c for c in query["$and"] if isinstance(c, dict)]
        exact = False
    for part in conjuncts:
        for key, condition in part.items():
            column = columns.get(key)
            translated, whole = _column_condition(column, condition) if column else (None, False)
            if translated is not None:
                found &= translated
            exact = exact and whole
    return found, exact
