"""The home page: counts from the cache, recent results newest first, a fixed cost."""

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.factories import make_model, make_result, make_test

pytestmark = pytest.mark.django_db


def count_queries(sql_list) -> int:
    return sum("COUNT(" in q["sql"].upper() for q in sql_list)


def test_home_page_counts_once_per_cache_period_not_per_visit(client):
    test, model = make_test(), make_model()
    make_result(test, model, 1)
    with CaptureQueriesContext(connection) as first:
        page = client.get("/")
    assert "1 tests, 1 models, 1 test results" in page.content.decode()
    assert count_queries(first) == 3
    make_result(test, model, 2)
    with CaptureQueriesContext(connection) as second:
        page = client.get("/")
    assert count_queries(second) == 0, "a visit within the cache period counts nothing"
    assert "1 test results" in page.content.decode()
    cache.clear()  # the period ends
    assert "2 test results" in client.get("/").content.decode()


def test_home_page_lists_recent_results_newest_first(client):
    test, model = make_test(), make_model()
    for number, minutes in ((1, 0), (2, 10), (3, 5)):
        make_result(test, model, number, minutes=minutes)
    text = client.get("/").content.decode()
    order = [text.index(f"TR_00000000000{n}_000") for n in (2, 3, 1)]
    assert order == sorted(order)


def test_a_big_result_table_is_estimated_on_postgresql_and_counted_elsewhere(client, monkeypatch):
    from django.db import connection

    from public.views import home

    test, model = make_test(), make_model()
    for number in range(1, 4):
        make_result(test, model, number)
    monkeypatch.setattr(home, "ESTIMATE_ABOVE", 2)
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE repository_testresult")
        assert home.row_count(home.TestResult) == (3, True)
        assert "about 3 test results" in client.get("/").content.decode()
    else:
        assert home.row_count(home.TestResult) == (3, False)
        assert "1 models, 3 test results" in client.get("/").content.decode()
