"""What a query gives back once its documents are found: ``sort``, ``skip``, ``limit``,
``fields`` (MongoDB projection), ``project``, ``flat`` and ``distinct``, as OpenKIM answers them."""

from queryapi.errors import QueryError
from queryapi.matcher import field_values, whole_values

_TYPE_RANK = {type(None): 0, bool: 3, int: 1, float: 1, str: 2, dict: 4, list: 5}


def value_at(document, path: str):
    """The value at a dotted path (numeric parts index arrays), or None."""
    found = whole_values(document, path)
    return found[0] if found else None


def _sort_key(value):
    rank = _TYPE_RANK.get(type(value), 6)
    return (rank, value) if rank in (1, 2, 3) else (rank, str(value))


def parse_sort(sort) -> list[tuple[str, int]]:
    """``"key"``, ``["key", -1]``, ``[["a", 1], ["b", -1]]`` or ``{"a": 1}`` → [(key, ±1)]."""
    if sort is None or sort == [] or sort == "":
        return []
    if isinstance(sort, str):
        return [(sort, 1)]
    if isinstance(sort, dict):
        sort = list(sort.items())
    if (isinstance(sort, list) and len(sort) == 2 and isinstance(sort[0], str)
            and isinstance(sort[1], int)):
        sort = [sort]
    keys = []
    for entry in sort if isinstance(sort, list) else [None]:
        if isinstance(entry, str):
            keys.append((entry, 1))
        elif (isinstance(entry, (list, tuple)) and len(entry) == 2 and isinstance(entry[0], str)
              and entry[1] in (1, -1)):
            keys.append((entry[0], entry[1]))
        else:
            raise QueryError(f"sort: expected a key or [key, 1|-1] pairs, not {sort!r}")
    return keys


def sort_documents(documents: list[dict], keys: list[tuple[str, int]]) -> list[dict]:
    for path, direction in reversed(keys):
        documents.sort(key=lambda d, p=path: _sort_key(value_at(d, p)), reverse=direction == -1)
    return documents


def parse_fields(fields) -> tuple[list[str], bool] | None:
    """(paths, include) of a projection ``{"a.si-value": 1}`` or ``{"meta": 0}``; None for all."""
    if fields in (None, {}, []):
        return None
    if isinstance(fields, list) and all(isinstance(f, str) for f in fields):
        fields = dict.fromkeys(fields, 1)
    if not isinstance(fields, dict):
        raise QueryError(f"fields: expected a projection document like {{\"a\": 1}}, not {fields!r}")
    fields = {k: v for k, v in fields.items() if k != "_id"}
    flags = {bool(v) for v in fields.values()}
    if len(flags) > 1:
        raise QueryError("fields: a projection either includes or excludes keys, not both")
    return list(fields), flags == {True} if flags else True


def _include(document, parts: list[str]):
    if isinstance(document, list):
        return [_include(d, parts) for d in document if isinstance(d, (dict, list))]
    if not isinstance(document, dict) or parts[0] not in document:
        return None
    value = document[parts[0]]
    return value if len(parts) == 1 else _include(value, parts[1:])


def _merge(target: dict, parts: list[str], value) -> None:
    for part in parts[:-1]:
        target = target.setdefault(part, {})
    target[parts[-1]] = value


def _exclude(document, parts: list[str]) -> None:
    if isinstance(document, list):
        for d in document:
            _exclude(d, parts)
    elif isinstance(document, dict) and parts[0] in document:
        if len(parts) == 1:
            del document[parts[0]]
        else:
            _exclude(document[parts[0]], parts[1:])


def project_fields(document: dict, projection) -> dict:
    if projection is None:
        return document
    paths, include = projection
    if include:
        answer: dict = {}
        for path in paths:
            value = _include(document, path.split("."))
            if value is not None:
                _merge(answer, path.split("."), value)
        return answer
    for path in paths:
        _exclude(document, path.split("."))
    return document


def flatten(document: dict, prefix: str = "") -> dict:
    flat = {}
    for key, value in document.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            flat.update(flatten(value, name + "."))
        else:
            flat[name] = value
    return flat


def project_values(documents: list[dict], keys) -> list:
    """One list of values per document, in the order of ``keys``; a bare value for one key."""
    if isinstance(keys, str):
        keys = [keys]
    if not isinstance(keys, list) or not keys or not all(isinstance(k, str) for k in keys):
        raise QueryError(f"project: expected a list of dotted keys, not {keys!r}")
    rows = [[value_at(d, k) for k in keys] for d in documents]
    return [row[0] for row in rows] if len(keys) == 1 else rows


def distinct_values(documents: list[dict], key) -> list:
    if not isinstance(key, str) or not key:
        raise QueryError(f"distinct: expected one dotted key, not {key!r}")
    seen, found = set(), []
    for document in documents:
        for value in field_values(document, key):
            if isinstance(value, list):
                continue  # the elements are given one by one, as MongoDB's distinct does
            marker = repr(value)
            if marker not in seen:
                seen.add(marker)
                found.append(value)
    return sorted(found, key=_sort_key)
