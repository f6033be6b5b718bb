"""A query is bounded in the documents it returns and reads, and in time: each bound is a
named error (QueryLimitExceeded) saying which."""

import pytest

from queryapi import api
from queryapi.errors import QueryLimitExceeded
from queryapi.models import QueryDocument

pytestmark = pytest.mark.django_db


@pytest.fixture
def many():
    QueryDocument.objects.bulk_create(
        QueryDocument(database="data", key=f"TR_{n:012d}_000#1", source=f"TR_{n:012d}_000", kind="tr",
                      document={"n": n, "meta": {"uuid": f"TR_{n:012d}_000"}}) for n in range(3000))


def test_an_answer_above_the_bound_must_page(many, settings):
    settings.QUERY_MAX_DOCUMENTS = 100
    with pytest.raises(QueryLimitExceeded, match="3000 documents match.*give a limit"):
        api.query({"database": "data", "query": {}})
    with pytest.raises(QueryLimitExceeded, match="limit 500 is above"):
        api.query({"database": "data", "query": {}, "limit": 500})
    page = api.query({"database": "data", "query": {}, "sort": "n", "skip": 100, "limit": 100,
                      "project": ["n"]})
    assert page == list(range(100, 200))
    assert api.query({"database": "data", "query": {}, "count": True}) == 3000


def test_a_query_reading_too_many_documents_stops(many, settings):
    settings.QUERY_MAX_SCANNED = 1000
    with pytest.raises(QueryLimitExceeded, match="reads more than 1000 documents"):
        api.query({"database": "data", "query": {"n": -1}})
    # A query the indexed columns narrow reads few and answers.
    assert api.query({"database": "data", "query": {"meta.uuid": "TR_000000000007_000"},
                      "project": ["n"]}) == [7]


def test_a_query_past_its_time_stops(many, settings):
    settings.QUERY_TIMEOUT = 1e-6
    with pytest.raises(QueryLimitExceeded, match="took more than"):
        api.query({"database": "data", "query": {"n": -1}})


def test_the_time_bound_ends_with_the_query(many):
    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip("statement_timeout is PostgreSQL's (the suite runs again on PostgreSQL)")
    with connection.cursor() as cursor:
        cursor.execute("SHOW statement_timeout")
        before = cursor.fetchone()
        api.query({"database": "data", "query": {"n": 3}})
        cursor.execute("SHOW statement_timeout")
        assert cursor.fetchone() == before
