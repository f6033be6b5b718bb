"""Questions compiled once per worker (repository.compiled): the values reach the database."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from repository import compiled as compiled_queries
from repository.models import Error, Test, TestResult, latest_outcome
from tests.factories import make_error, make_model, make_result, make_test

pytestmark = pytest.mark.django_db


def test_the_values_take_the_markers_places():
    question = compiled_queries.compiled(
        ("test", "by number and version"),
        lambda number, version: Test.objects.filter(number=number, version=version),
        {"number": "number-marker", "version": 32_001}, connection.alias)
    assert question is not None
    found = set(question.bind(number="000000000042", version=3))
    assert {"000000000042", 3} <= found and not {"number-marker", 32_001} & found


def test_a_marker_that_is_not_exactly_one_parameter_gives_no_compiled_question():
    twice = compiled_queries.compiled(
        ("test", "marker twice"),
        lambda name: Test.objects.filter(name=name) | Test.objects.filter(kim_id=name),
        {"name": "name-marker"}, connection.alias)
    absent = compiled_queries.compiled(
        ("test", "marker absent"), lambda name: Test.objects.all(), {"name": "name-marker"},
        connection.alias)
    out_of_range = compiled_queries.compiled(  # Django compiles no query for it
        ("test", "marker out of range"), lambda version: Test.objects.filter(version=version),
        {"version": -1}, connection.alias)
    assert twice is None and absent is None and out_of_range is None


def test_latest_outcome_asks_each_pair_with_its_own_numbers():
    test = make_test()
    first, second = make_model(number=31, name="First"), make_model(number=32, name="Second")
    make_result(test, first, 1, minutes=1)
    make_error(first, 2, test=test, minutes=2)       # the first pair's latest: the error
    make_result(test, second, 3, minutes=3)          # the second pair's only outcome
    assert latest_outcome(test, first).kim_id == "ER_000000000002_000"
    with CaptureQueriesContext(connection) as asked:
        assert latest_outcome(test, second).kim_id == "TR_000000000003_000"
    assert len(asked.captured_queries) == 2, "one question per outcome table"
    assert all(second.number in q["sql"] and first.number not in q["sql"]
               for q in asked.captured_queries)
    assert latest_outcome(make_test(number=77, name="Other"), second) is None


def test_the_hot_questions_compile_on_this_database():
    """latest_outcome and is_latest take their compiled path here, not the ORM fallback (which
    a marker Django hands over in another type would cause: psycopg's Int2 for a small integer
    on PostgreSQL did, for the version marker of the first test)."""
    from queryapi.sync import is_latest

    test, model = make_test(), make_model()
    result = make_result(test, model, 1)
    latest_outcome(test, model), is_latest(result)

    def compiled_again(**markers):
        raise AssertionError("asked to compile again: the first ask left no compiled question")

    asked = [compiled_queries.compiled(key, compiled_again, markers, connection.alias)
             for key, markers in (
                 (("current outcome", TestResult, "TE"), {"runner_number": "r", "subject_number": "s"}),
                 (("current outcome", Error, "TE"), {"runner_number": "r", "subject_number": "s"}),
                 (("is_latest", TestResult), {"pk": 0}))]
    assert None not in asked
