"""Every MongoDB operator the query API answers, on documents stored in the database and read
through queryapi.api.query (the SQL narrowing and the Python matcher together)."""

import pytest

from queryapi import api
from queryapi.errors import QueryError
from queryapi.matcher import compile_filter
from queryapi.models import QueryDocument

pytestmark = pytest.mark.django_db

TAG = "tag:staff@noreply.openkim.org,2014-04-15:property/"
DOCS = [
    {"property-id": TAG + "structure-cubic-crystal-npt", "instance-id": 1,
     "short-name": {"source-value": ["fcc"]}, "species": {"source-value": ["Al"] * 4},
     "a": {"source-value": 4.05, "source-unit": "angstrom", "si-value": 4.05e-10},
     "meta": {"uuid": "TR_000000000001_000", "runner": {"kimcode": "LatticeConstantCubicEnergy_fcc_Al__TE_514507648222_000"},
              "subject": {"kimcode": "EAM_Al__MO_000000000001_000"}},
     "stack": [{"layer": 1, "kind": "A"}, {"layer": 2, "kind": "B"}]},
    {"property-id": TAG + "structure-cubic-crystal-npt", "instance-id": 1,
     "short-name": {"source-value": ["bcc"]}, "species": {"source-value": ["Fe", "Fe"]},
     "a": {"source-value": 2.86, "source-unit": "angstrom", "si-value": 2.86e-10},
     "meta": {"uuid": "TR_000000000002_000", "runner": {"kimcode": "LatticeConstantCubicEnergy_bcc_Fe__TE_040928576938_000"},
              "subject": {"kimcode": "EAM_Fe__MO_000000000002_000"}},
     "stack": [{"layer": 1, "kind": "B"}]},
    {"property-id": TAG + "cohesive-potential-energy-cubic-crystal", "instance-id": 2,
     "short-name": {"source-value": ["fcc"]}, "species": {"source-value": ["Cu"] * 4},
     "cohesive-potential-energy": {"source-value": 3.54, "source-unit": "eV"},
     "meta": {"uuid": "TR_000000000003_000", "runner": {"kimcode": "LatticeConstantCubicEnergy_fcc_Cu__TE_034011016014_000"},
              "subject": {"kimcode": "EAM_Cu__MO_000000000003_000"}},
     "note": None},
]


@pytest.fixture
def stored():
    for n, doc in enumerate(DOCS):
        meta = doc["meta"]
        QueryDocument.objects.create(
            database="data", key=f"{meta['uuid']}#1", source=meta["uuid"], kind="tr",
            runner_kimcode=meta["runner"]["kimcode"], subject_kimcode=meta["subject"]["kimcode"],
            property_id=doc["property-id"], latest=n != 99, document=doc)


def uuids(query: dict, **params) -> list[str]:
    return api.query({"database": "data", "query": query, "project": ["meta.uuid"], **params})


CASES = [
    # (filter, the result numbers it matches)
    ({"a.source-value": 4.05}, [1]),
    ({"species.source-value": "Fe"}, [2]),  # an array holds the value
    ({"species.source-value": ["Fe", "Fe"]}, [2]),  # or is the value
    ({"a.source-value": {"$eq": 2.86}}, [2]),
    ({"short-name.source-value": {"$ne": "fcc"}}, [2]),
    ({"species.source-value": {"$in": ["Cu", "Fe"]}}, [2, 3]),
    ({"species.source-value": {"$nin": ["Cu", "Fe"]}}, [1]),
    ({"a.source-value": {"$gt": 2.86}}, [1]),
    ({"a.source-value": {"$gte": 2.86}}, [1, 2]),
    ({"a.source-value": {"$lt": 4.05}}, [2]),
    ({"a.source-value": {"$lte": 4.05, "$gt": 3}}, [1]),
    ({"a": {"$exists": False}}, [3]),
    ({"note": {"$exists": True}}, [3]),
    ({"meta.runner.kimcode": {"$regex": "LatticeConstantCubicEnergy_fcc_Al__TE_[0-9]{12}"}}, [1]),
    ({"meta.runner.kimcode": {"$regex": "latticeconstantcubicenergy_BCC", "$options": "i"}}, [2]),
    ({"property-id": {"$regex": "property/structure-cubic-crystal-npt$"}}, [1, 2]),
    ({"property-id": {"$not": {"$regex": "structure"}}}, [3]),
    ({"a.source-value": {"$not": {"$gt": 3}}}, [2, 3]),
    ({"$and": [{"short-name.source-value": "fcc"}, {"species.source-value": "Cu"}]}, [3]),
    ({"$or": [{"species.source-value": "Al"}, {"species.source-value": "Fe"}]}, [1, 2]),
    ({"$nor": [{"species.source-value": "Al"}, {"species.source-value": "Fe"}]}, [3]),
    ({"stack": {"$elemMatch": {"layer": 2, "kind": "B"}}}, [1]),
    ({"stack": {"$elemMatch": {"layer": 1, "kind": "B"}}}, [2]),
    ({"species.source-value": {"$elemMatch": {"$eq": "Cu"}}}, [3]),
    ({"species.source-value": {"$size": 2}}, [2]),
    ({"stack.kind": "B"}, [1, 2]),  # a dotted key walks an array of documents
    ({"stack.1.kind": "B"}, [1]),  # a numeric part indexes it
    ({"species.source-value.0": "Cu"}, [3]),
    ({"note": None}, [1, 2, 3]),  # null matches null and a missing key
    ({"meta.subject.kimcode": "EAM_Cu__MO_000000000003_000", "instance-id": 2}, [3]),
    ({"meta.subject.kimcode": {"$in": ["EAM_Cu__MO_000000000003_000", "EAM_Fe__MO_000000000002_000"]}}, [2, 3]),
]


@pytest.mark.parametrize(("query", "expected"), CASES, ids=[str(c[0])[:60] for c in CASES])
def test_each_operator_matches_as_mongodb_does(stored, query, expected):
    assert uuids(query) == [f"TR_{n:012d}_000" for n in expected]
    # The stored answer is the matcher's answer on every document: SQL only narrows.
    naive = [d["meta"]["uuid"] for d in DOCS if compile_filter(query)(d)]
    assert uuids(query) == naive


def test_sort_skip_limit_count_distinct_fields_flat(stored):
    assert uuids({}, sort=[["a.source-value", -1]]) == [
        "TR_000000000001_000", "TR_000000000002_000", "TR_000000000003_000"]
    assert uuids({}, sort="a.source-value", skip=1, limit=1) == ["TR_000000000002_000"]
    assert api.query({"database": "data", "query": {"short-name.source-value": "fcc"}, "count": True}) == 2
    # A filter the indexed columns say whole is counted by SQL alone, with the same answer.
    assert api.query({"database": "data", "query": {"meta.uuid": {"$regex": "^TR_0+[12]_"}},
                      "count": True}) == 2
    answer = api.run({"database": "data", "query": {"meta.uuid": {"$in": ["TR_000000000003_000"]}},
                      "count": True})
    assert (answer.result, answer.uuids) == (1, ["TR_000000000003_000"])
    assert api.query({"database": "data", "query": {}, "distinct": "species.source-value"}) == ["Al", "Cu", "Fe"]
    projected = api.query({"database": "data", "query": {"a.source-value": 4.05},
                           "fields": {"a.si-value": 1, "meta.uuid": 1}})
    assert projected == [{"a": {"si-value": 4.05e-10}, "meta": {"uuid": "TR_000000000001_000"}}]
    flat = api.query({"database": "data", "query": {"a.source-value": 4.05},
                      "fields": {"a.si-value": 1}, "flat": True})
    assert flat == [{"a.si-value": 4.05e-10}]
    two = api.query({"database": "data", "query": {"a.source-value": 4.05},
                     "project": ["a.source-value", "a.source-unit"]})
    assert two == [[4.05, "angstrom"]]


def test_history_off_reads_only_latest_documents(stored):
    QueryDocument.objects.filter(source="TR_000000000002_000").update(latest=False)
    assert uuids({"short-name.source-value": "bcc"}) == []
    assert uuids({"short-name.source-value": "bcc"}, history=True) == ["TR_000000000002_000"]
    assert api.query({"database": "data", "query": {"short-name.source-value": "bcc"}, "history": True,
                      "project": ["latest"]}) == [False]


BAD = [
    ({"query": {"$where": "1"}}, r"unknown top-level operator \$where"),
    ({"query": {"a": {"$near": 1}}}, r"unknown operator \$near"),
    ({"query": {"a": {"$regex": "("}}}, "bad \\$regex"),
    ({"query": {"a": {"$regex": "x", "$options": "q"}}}, "\\$options"),
    ({"query": {"a": {"$in": 3}}}, "needs a list"),
    ({"query": {"a": {"$size": -1}}}, "non-negative integer"),
    ({"query": {"$or": []}}, "non-empty list"),
    ({"query": {"a": {"$gt": 1, "b": 2}}}, "mixed"),
    ({"query": ["not", "a", "document"]}, "must be a document"),
    ({"database": "log"}, "left out"),
    ({"limit": -1}, "non-negative integer"),
    ({"sort": [["a", 2]]}, "sort"),
    ({"fields": {"a": 1, "b": 0}}, "includes or excludes"),
    ({"map": "function() {}"}, "unknown query parameter"),
    ({"distinct": 3}, "one dotted key"),
]


@pytest.mark.parametrize(("params", "message"), BAD, ids=[m for _, m in BAD])
def test_a_malformed_query_is_a_named_error_saying_what(stored, params, message):
    with pytest.raises(QueryError, match=message):
        api.query({"database": "data", **params})
