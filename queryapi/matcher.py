"""MongoDB filter semantics over one document, in Python: the final word on what matches.

Dotted keys descend into nested documents and arrays (a numeric part indexes an array; any
other part is tried on each element), and a condition on a field holding an array holds when
it holds for the array or for one of its elements, as in MongoDB. ``compile_filter`` checks the
whole filter once (unknown operators, malformed arguments, bad regexes) and returns a predicate.
"""

import re
from collections.abc import Callable

from queryapi.errors import QueryError

Predicate = Callable[[dict], bool]
_MISSING = object()

#: The operators answered; anything else starting with "$" is refused by name.
FIELD_OPERATORS = ("$eq", "$ne", "$in", "$nin", "$gt", "$gte", "$lt", "$lte", "$exists",
                   "$regex", "$options", "$not", "$elemMatch", "$size")
LOGICAL_OPERATORS = ("$and", "$or", "$nor")
_REGEX_FLAGS = {"i": re.IGNORECASE, "m": re.MULTILINE, "s": re.DOTALL, "x": re.VERBOSE}


def field_values(document, path: str) -> list:
    """Every value ``path`` reaches in ``document``: arrays on the way are walked, and a leaf
    array is given both whole and element by element."""
    found: list = []

    def walk(value, parts: list[str]) -> None:
        if not parts:
            found.append(value)
            if isinstance(value, list):
                found.extend(value)
            return
        head, rest = parts[0], parts[1:]
        if isinstance(value, dict):
            if head in value:
                walk(value[head], rest)
        elif isinstance(value, list):
            if head.isdigit() and int(head) < len(value):
                walk(value[int(head)], rest)
            for element in value:
                if isinstance(element, (dict, list)) and not head.isdigit():
                    walk(element, parts)

    walk(document, path.split("."))
    return found


def whole_values(document, path: str) -> list:
    """The values ``path`` reaches, arrays not expanded at the leaf ($exists, $size, $elemMatch)."""
    return _whole(document, path.split("."))


def _whole(value, parts: list[str]) -> list:
    if not parts:
        return [value]
    head, rest = parts[0], parts[1:]
    if isinstance(value, dict):
        return _whole(value[head], rest) if head in value else []
    if isinstance(value, list):
        if head.isdigit() and int(head) < len(value):
            return _whole(value[int(head)], rest)
        return [v for element in value if isinstance(element, (dict, list))
                for v in _whole(element, parts)]
    return []


def _equal(a, b) -> bool:
    # MongoDB compares numbers by value whatever their type, never a bool with a number.
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    return a == b


def _comparable(a, b) -> bool:
    numbers = (int, float)
    if isinstance(a, bool) or isinstance(b, bool):
        return False
    return (isinstance(a, numbers) and isinstance(b, numbers)) or (
        isinstance(a, str) and isinstance(b, str))


def _compile_regex(pattern, options, where: str) -> re.Pattern:
    if isinstance(pattern, dict) and set(pattern) <= {"$regex", "$options"}:
        pattern, options = pattern.get("$regex"), pattern.get("$options", options)
    if not isinstance(pattern, str):
        raise QueryError(f"{where}: $regex needs a string, not {pattern!r}")
    if not isinstance(options, str) or set(options) - set(_REGEX_FLAGS):
        raise QueryError(f"{where}: $options must be letters of 'imsx', not {options!r}")
    flags = 0
    for letter in options:
        flags |= _REGEX_FLAGS[letter]
    try:
        return re.compile(pattern, flags)
    except re.error as exc:
        raise QueryError(f"{where}: bad $regex {pattern!r}: {exc}") from exc


def _is_operator_expression(condition) -> bool:
    return isinstance(condition, dict) and bool(condition) and all(
        isinstance(k, str) and k.startswith("$") for k in condition)


def _compile_operator(name: str, argument, condition: dict, path: str) -> Callable[[dict], bool]:
    where = f"{path}: {name}"
    if name == "$eq":
        return lambda doc: any(_equal(v, argument) for v in field_values(doc, path))
    if name == "$ne":
        return lambda doc: not any(_equal(v, argument) for v in field_values(doc, path))
    if name in ("$in", "$nin"):
        if not isinstance(argument, list):
            raise QueryError(f"{where} needs a list, not {argument!r}")
        regexes = [_compile_regex(a, "", where) for a in argument if isinstance(a, dict)
                   and "$regex" in a]
        plain = [a for a in argument if not (isinstance(a, dict) and "$regex" in a)]

        def member(doc) -> bool:
            values = field_values(doc, path)
            if not values and any(a is None for a in plain):
                return True
            return any(_equal(v, a) for v in values for a in plain) or any(
                isinstance(v, str) and r.search(v) for v in values for r in regexes)
        return member if name == "$in" else (lambda doc: not member(doc))
    if name in ("$gt", "$gte", "$lt", "$lte"):
        compare = {"$gt": lambda a, b: a > b, "$gte": lambda a, b: a >= b,
                   "$lt": lambda a, b: a < b, "$lte": lambda a, b: a <= b}[name]
        if not isinstance(argument, (int, float, str)) or isinstance(argument, bool):
            raise QueryError(f"{where} needs a number or a string, not {argument!r}")
        return lambda doc: any(_comparable(v, argument) and compare(v, argument)
                               for v in field_values(doc, path))
    if name == "$exists":
        wanted = bool(argument)
        return lambda doc: bool(whole_values(doc, path)) == wanted
    if name == "$regex":
        regex = _compile_regex(argument, condition.get("$options", ""), where)
        return lambda doc: any(isinstance(v, str) and regex.search(v) for v in field_values(doc, path))
    if name == "$options":
        if "$regex" not in condition:
            raise QueryError(f"{where} without $regex")
        return lambda doc: True
    if name == "$not":
        if isinstance(argument, dict) and "$regex" not in argument:
            if not _is_operator_expression(argument):
                raise QueryError(f"{where} needs an operator expression or a regex, not {argument!r}")
            inner = compile_condition(path, argument)
        else:
            regex = _compile_regex(argument, "", where)
            inner = lambda doc: any(isinstance(v, str) and regex.search(v)  # noqa: E731
                                    for v in field_values(doc, path))
        return lambda doc: not inner(doc)
    if name == "$elemMatch":
        if not isinstance(argument, dict) or not argument:
            raise QueryError(f"{where} needs a non-empty document, not {argument!r}")
        if _is_operator_expression(argument) and not set(argument) & set(LOGICAL_OPERATORS):
            element_matches = compile_condition("v", argument)
            test = lambda element: element_matches({"v": element})  # noqa: E731
        else:
            sub = compile_filter(argument)
            test = lambda element: isinstance(element, dict) and sub(element)  # noqa: E731
        return lambda doc: any(isinstance(v, list) and any(test(e) for e in v)
                               for v in whole_values(doc, path))
    if name == "$size":
        if isinstance(argument, bool) or not isinstance(argument, int) or argument < 0:
            raise QueryError(f"{where} needs a non-negative integer, not {argument!r}")
        return lambda doc: any(isinstance(v, list) and len(v) == argument
                               for v in whole_values(doc, path))
    raise QueryError(f"{path}: unknown operator {name}")


def compile_condition(path: str, condition) -> Predicate:
    """The predicate of ``{path: condition}``: an operator expression, a regex, or equality."""
    if isinstance(condition, re.Pattern):
        return lambda doc: any(isinstance(v, str) and condition.search(v)
                               for v in field_values(doc, path))
    if _is_operator_expression(condition):
        parts = [_compile_operator(name, argument, condition, path)
                 for name, argument in condition.items()]
        return lambda doc: all(part(doc) for part in parts)
    if isinstance(condition, dict) and any(isinstance(k, str) and k.startswith("$") for k in condition):
        raise QueryError(f"{path}: operators and plain keys mixed in {condition!r}")
    if condition is None:
        # MongoDB: {field: null} matches a null value and a missing field.
        return lambda doc: all(v is None for v in field_values(doc, path))
    return lambda doc: any(_equal(v, condition) for v in field_values(doc, path))


def compile_filter(query) -> Predicate:
    """The predicate of a whole MongoDB filter document; QueryError names what is wrong."""
    if query is None:
        return lambda doc: True
    if not isinstance(query, dict):
        raise QueryError(f"a query must be a document (JSON object), not {query!r}")
    parts: list[Predicate] = []
    for key, condition in query.items():
        if not isinstance(key, str) or not key:
            raise QueryError(f"a query key must be a non-empty string, not {key!r}")
        if key in LOGICAL_OPERATORS:
            if not isinstance(condition, list) or not condition:
                raise QueryError(f"{key} needs a non-empty list of documents, not {condition!r}")
            branches = [compile_filter(c) for c in condition]
            if key == "$and":
                parts.append(lambda doc, b=branches: all(p(doc) for p in b))
            elif key == "$or":
                parts.append(lambda doc, b=branches: any(p(doc) for p in b))
            else:
                parts.append(lambda doc, b=branches: not any(p(doc) for p in b))
        elif key.startswith("$"):
            raise QueryError(f"unknown top-level operator {key}")
        else:
            parts.append(compile_condition(key, condition))
    return lambda doc: all(p(doc) for p in parts)
