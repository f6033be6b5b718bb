"""Which tests report a property: sampled once per test version into ReportedProperty.

(The module is imported whole: pytest would collect a function named tests_reporting.)
"""

import pytest

from public import tests_reporting as reporting
from public.models import ReportedProperty
from tests.factories import make_model, make_result, make_test, make_values
from tests.site.cast import PROPERTY

pytestmark = pytest.mark.django_db


def test_a_test_is_listed_under_its_property_after_its_first_result_and_sampled_once():
    test = make_test("LatticeConstant_fcc_Ar", 514507648301)
    other = make_test("CohesiveEnergy_fcc_Ar", 514507648302)
    model = make_model("LJ_Ar_Sample", 101)
    assert reporting.tests_reporting(PROPERTY) == set()  # no result yet: nothing to sample

    make_values(make_result(test, model, 7001), PROPERTY, a=(5.2, "angstrom"))
    make_values(make_result(other, model, 7002), "cohesive-energy", e=(0.08, "eV"))
    assert reporting.tests_reporting(PROPERTY) == {test.number}
    assert reporting.tests_reporting("cohesive-energy") == {other.number}
    assert reporting.refresh() == 0  # both versions are known now: no sampling at the next visit

    # A new version of the test is sampled again: it could report something else.
    newer = make_test("LatticeConstant_fcc_Ar", 514507648301, version=1)
    make_values(make_result(newer, model, 7003), "cohesive-energy", e=(0.09, "eV"))
    assert reporting.tests_reporting(PROPERTY) == set()
    assert reporting.tests_reporting("cohesive-energy") == {test.number, other.number}


def test_a_result_without_values_marks_its_test_sampled_reporting_nothing():
    test = make_test("Empty_fcc_Ar", 514507648303)
    make_result(test, make_model("LJ_Ar_Empty", 102), 7004)
    assert reporting.refresh() == 1 and reporting.refresh() == 0
    assert list(ReportedProperty.objects.values_list("test_number", "property_name")) == [
        (test.number, "")]


def test_the_property_page_lists_its_tests_a_page_at_a_time(client):
    model = make_model("LJ_Ar_Many", 103)
    tests = [make_test(f"Lattice_{n:02d}_fcc_Ar", 514507648400 + n) for n in range(55)]
    for n, test in enumerate(tests):
        make_values(make_result(test, model, 7100 + n), PROPERTY, a=(5.0 + n / 100, "angstrom"))
    first = client.get(f"/properties/{PROPERTY}?format=json").json()
    second = client.get(f"/properties/{PROPERTY}?format=json&tpage=2").json()
    assert len(first["tests"]) == 50 and len(second["tests"]) == 5
    assert first["tests_page"]["count"] == 55 and first["tests_page"]["has_next"]
    assert set(first["tests"]) | set(second["tests"]) == {t.kim_id for t in tests}
    assert first["values"] and first["values"][0]["model"] == model.kim_id
