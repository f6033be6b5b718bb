"""The one Python entry point of the query API: what a template's ``query()``, kimgenie and the
HTTP view call. ``query(params)`` answers a raw query as OpenKIM's ``/api`` does;
``run(params)`` also gives the result IDs the answer was made from (the run's upstream)."""

from queryapi.engine import QueryAnswer, run_query
from queryapi.named import NAMED_QUERIES


def run(params: dict) -> QueryAnswer:
    return run_query(params)


def query(params: dict):
    """The answer of a raw query: documents, projected values, a count or distinct values."""
    return run_query(params).result


def run_named(name: str, params: dict) -> QueryAnswer:
    """A named query of kim-query (``queryapi.named.NAMED_QUERIES``) and the result IDs it read."""
    result, uuids = NAMED_QUERIES[name](**params)
    return QueryAnswer(result, uuids)


def named(name: str, params: dict):
    return run_named(name, params).result
