"""The curator's admin at scale: big tables cost the same queries for 3 rows or 300 and never
COUNT a whole table; a result's page links what it came from and shows its outputs safely."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from repository import admin_lookups
from repository.models import Error, PropertyValue, TestResult, VerificationResult
from tests.factories import make_error, make_model, make_result, make_test, make_values
from tests.site.cast import make_cast

pytestmark = pytest.mark.django_db

BIG_TABLES = (TestResult, Error, VerificationResult, PropertyValue)


def fill(rows: int, start: int) -> None:
    test, model = make_test(number=start), make_model(number=start)
    for n in range(rows):
        result = make_result(test, model, start * 1000 + n, minutes=n)
        make_values(result, a=(5.0 + n / 1000, "angstrom"))
        make_error(model, start * 1000 + n, test=test, minutes=n)


def changelist_queries(client, model, **params) -> list[str]:
    url = reverse(f"admin:repository_{model._meta.model_name}_changelist")
    with CaptureQueriesContext(connection) as captured:
        assert client.get(url, params).status_code == 200
    return [q["sql"] for q in captured]


def test_big_tables_cost_a_fixed_number_of_queries_and_no_full_count(admin_client, monkeypatch):
    monkeypatch.setattr(admin_lookups, "LOOKAHEAD_PAGES", 1)
    fill(3, 1)
    small = {m: len(changelist_queries(admin_client, m)) for m in BIG_TABLES}
    fill(150, 2)
    for model in BIG_TABLES:
        queries = changelist_queries(admin_client, model)
        assert len(queries) == small[model], model
        for sql in queries:
            if "COUNT(" in sql.upper():
                assert "LIMIT" in sql.upper(), f"{model.__name__} counts every row: {sql}"
    page = admin_client.get(reverse("admin:repository_testresult_changelist")).content.decode()
    assert "at least 101 test results" in page  # one page ahead counted, not the 153 rows


def test_a_later_page_is_reached_and_the_last_one_counts_exactly(admin_client, monkeypatch):
    monkeypatch.setattr(admin_lookups, "LOOKAHEAD_PAGES", 1)
    fill(120, 3)
    url = reverse("admin:repository_testresult_changelist")
    page = admin_client.get(url, {"p": 2}).content.decode()
    assert "TR_000000003000_000" in page  # oldest last: on page 2
    assert "120 test results" in page and "at least" not in page


def test_species_filter_of_results_reads_models_not_results(admin_client):
    fill(3, 4)
    cu = make_model("EAM_Cu", 77, species=("Cu",))
    make_result(make_test(number=78, species=("Cu",)), cu, 9_999_001)
    queries = changelist_queries(admin_client, TestResult, species="Cu")
    page = admin_client.get(reverse("admin:repository_testresult_changelist"), {"species": "Cu"})
    assert "TR_000009999001_000" in page.content.decode()
    assert "TR_000000004000_000" not in page.content.decode()
    assert not any("DISTINCT" in q.upper() and "repository_testresult" in q for q in queries)


def test_result_page_links_its_test_model_and_upstream_and_shows_outputs_escaped(
        admin_client, repository_dir):
    cast = make_cast(repository_dir)
    upstream = cast.results[1]
    result = cast.results[0]
    result.provenance = {"upstream-results": [upstream.kim_id], "profiling": {"runtime": 1.5},
                         "exit-code": 0}
    result.save()
    text = admin_client.get(reverse("admin:repository_testresult_change", args=[result.pk])).content.decode()
    assert reverse("admin:repository_test_change", args=[cast.test.pk]) in text
    assert reverse("admin:repository_model_change", args=[cast.models[0].pk]) in text
    assert reverse("admin:repository_testresult_change", args=[upstream.pk]) in text
    assert "<th>profiling</th>" in text and "runtime: 1.5" in text
    assert "<script>alert(1)" not in text and "&lt;script&gt;alert(1)" in text
    assert f'/id/{result.kim_id}/files/pipeline.stdout' in text
