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


def _column_condition(column: str, condition) -> Q | None:
    if isinstance(condition, str):
        return Q(**{column: condition})
    if not isinstance(condition, dict):
        return None
    found = Q()
    for name, argument in condition.items():
        if name == "$eq" and isinstance(argument, str):
            found &= Q(**{column: argument})
        elif name == "$in" and isinstance(argument, list) and argument and all(
                isinstance(a, str) for a in argument):
            found &= Q(**{f"{column}__in": argument})
        elif name == "$regex" and isinstance(argument, str) and _portable(argument):
            options = condition.get("$options", "")
            if options == "":
                found &= Q(**{f"{column}__regex": argument})
            elif options == "i":
                found &= Q(**{f"{column}__iregex": argument})
    return found


def sql_prefilter(query: dict, database: str) -> Q:
    """A Q over QueryDocument's columns that every document matching ``query`` satisfies."""
    columns = COLUMNS.get(database, {})
    found = Q()
    conjuncts = [query]
    conjuncts += [c for c in query.get("$and", []) if isinstance(c, dict)] if isinstance(
        query.get("$and"), list) else []
    for part in conjuncts:
        for key, condition in part.items():
            column = columns.get(key)
            if column:
                translated = _column_condition(column, condition)
                if translated is not None:
                    found &= translated
    return found
