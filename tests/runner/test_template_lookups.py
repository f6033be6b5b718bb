"""What the template's globals read: results by exact ID, a pair's current outcome as the shared
definition says, and the upstream pairs a template names through query()."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from repository.errors import PipelineDataMissing
from repository.models import TestResult
from runner.template import missing_upstream, render_text, required_upstream
from tests.factories import make_error, make_result
from tests.fixtures.runner.cast import installed_model, made_test

pytestmark = pytest.mark.django_db

UPSTREAM = "LatticeConstant_fcc_Al__TE_000000000011_000"
STRUCTURE = "tag:staff@noreply.openkim.org,2014-04-15:property/structure-cubic-crystal-npt"
EMPTY = {"runner": "#!/bin/sh\n", "pipeline.stdin.tpl": ""}


@pytest.fixture
def model(repository_dir):
    return installed_model()


@pytest.fixture
def upstream(repository_dir):
    return made_test(UPSTREAM, EMPTY)


def render(source, model, *, syntax="2020", files=None):
    item = made_test("Reader_fcc_Al__TE_000000000017_000",
                     files or {"runner": "#!/bin/sh\n", "pipeline.stdin.tpl": source})
    return render_text(source, item, model, syntax=syntax, filename="pipeline.stdin.tpl").text


def energy(value: float) -> list[dict]:
    return [{"property-id": "PR_000000000302_000", "instance-id": 1,
             "energy": {"source-value": value}}]


def test_2012_data_of_a_result_id_reads_that_version_by_exact_lookup(upstream, model):
    def stored(kim_id: str, value: float, minutes: int) -> TestResult:
        return TestResult.objects.create(kim_id=kim_id, test=upstream, model=model, instances=energy(value),
                                         created_at=timezone.now() + timedelta(minutes=minutes))

    # The newest first, as the default ordering would hand them out.
    older = stored("TR_000000000777_000", -3.1, 0)
    stored("TR_000000000777_001", -3.2, 1)
    stored("TR_000000000778_002", -9.9, 2)
    source = f"@DATA[{older.kim_id}][PR_000000000302]\n@DATA[TR_000000000777][PR_000000000302]\n"
    with CaptureQueriesContext(connection) as queries:
        text = render(source, model, syntax="2012")
    # The version asked for, then (no version) the latest version of that number.
    assert text.splitlines() == ["-3.1", "-3.2"]
    # Result IDs carry no name: nothing is searched with LIKE '%…%'.
    assert not [q["sql"] for q in queries.captured_queries if " LIKE " in q["sql"].upper()]


def test_an_upstream_whose_current_outcome_is_an_error_is_missing_data_naming_the_error(upstream, model):
    make_result(upstream, model, 31, minutes=0, instances=[
        {"property-id": STRUCTURE, "instance-id": 1, "a": {"source-value": 4.05, "source-unit": "angstrom"}}])
    error = make_error(model, 32, test=upstream, minutes=1)
    source = '@< get_test_result(["TE_000000000011"], [MODELNAME], ["structure-cubic-crystal-npt"], ["a"]) >@'
    with pytest.raises(PipelineDataMissing, match=error.kim_id):
        render(source, model)


def test_a_query_naming_its_upstream_by_a_name_regex_is_required_and_waited_for(upstream, model):
    source = ('@< query({"query": {"meta.runner.kimcode": {"$regex": "LatticeConstant_fcc_Al__TE_[0-9]{12}"},'
              ' "meta.subject.kimcode": MODELNAME, "property-id": "structure-cubic-crystal-npt"}}) >@\n')
    item = made_test("Querier_fcc_Al__TE_000000000018_000", {"runner": "#!/bin/sh\n", "pipeline.stdin.tpl": source})
    assert required_upstream(item, model) == [(upstream, model)]
    assert missing_upstream(item, model) == [(upstream, model)]
    make_result(upstream, model, 33, instances=[
        {"property-id": STRUCTURE, "instance-id": 1, "a": {"source-value": 4.05, "source-unit": "angstrom"}}])
    assert missing_upstream(item, model) == []
