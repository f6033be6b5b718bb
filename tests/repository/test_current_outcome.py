"""The one definition of a pair's latest and current outcome (repository.models.current).

Expected answers are written out by hand from KIM-FACTS' rule, never computed by the code
under test.
"""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from repository.models import (
    Error,
    TestResult,
    VerificationResult,
    current_outcome_keys,
    kim_obj,
    latest_outcome,
    outcome_key,
)
from tests.factories import (
    make_check,
    make_error,
    make_model,
    make_result,
    make_test,
    make_verification_result,
)

pytestmark = pytest.mark.django_db


def kim_ids(rows) -> list[str]:
    return sorted(r.kim_id for r in rows)


def test_latest_per_pair_orders_by_runner_then_subject_version_then_time():
    t0, t1 = make_test(version=0), make_test(version=1)
    m0, m1 = make_model(version=0), make_model(version=1)
    other_model = make_model(number=34, name="Other")
    make_result(t1, m0, 1, minutes=30)
    make_result(t0, m1, 2, minutes=40)          # newer but an older test version
    make_result(t1, m1, 3, minutes=10)          # the latest: highest versions, latest time
    make_result(t1, m1, 4, minutes=5)           # same versions, earlier
    make_result(t0, other_model, 5)             # the only row of another pair
    assert kim_ids(TestResult.objects.latest_per_pair()) == [
        "TR_000000000003_000", "TR_000000000005_000"]


def test_a_newer_error_supersedes_the_result_before_it():
    test, model = make_test(), make_model()
    make_result(test, model, 1, minutes=0)
    make_error(model, 2, test=test, minutes=5)
    assert not TestResult.objects.latest_per_pair().exists()
    assert not TestResult.objects.current().exists()
    assert kim_ids(Error.objects.current()) == ["ER_000000000002_000"]
    assert latest_outcome(test, model).kim_id == "ER_000000000002_000"


def test_a_stale_latest_outcome_is_not_current_and_does_not_let_an_older_one_through():
    test, model = make_test(), make_model()
    make_result(test, model, 1, minutes=0)
    make_result(test, model, 2, minutes=5, stale=True)
    assert kim_ids(TestResult.objects.latest_per_pair()) == ["TR_000000000002_000"]
    assert not TestResult.objects.current().exists()
    assert latest_outcome(test, model) is None


def test_a_new_version_of_the_test_or_the_model_supersedes_outcomes_before_it_has_run():
    t0, m0 = make_test(version=0), make_model(version=0)
    make_result(t0, m0, 1)
    assert latest_outcome(t0, m0).kim_id == "TR_000000000001_000"
    t1 = make_test(version=1)
    assert latest_outcome(t0, m0) is None, "the pair's test has a newer, unrun version"
    assert not TestResult.objects.current().exists()
    make_result(t1, m0, 2)
    assert latest_outcome(t0, m0).kim_id == "TR_000000000002_000"
    make_model(version=1)
    assert latest_outcome(t1, m0) is None, "the pair's model has a newer, unrun version"


def test_errors_of_tests_and_of_checks_do_not_compete_with_each_other():
    test, model = make_test(number=50), make_model()
    check = make_check(number=60)
    make_result(test, model, 1, minutes=10)
    make_error(model, 2, check=check, minutes=20)
    make_verification_result(check, model, 3, minutes=0)
    assert kim_ids(TestResult.objects.current()) == ["TR_000000000001_000"]
    assert kim_ids(Error.objects.current()) == ["ER_000000000002_000"]
    assert not VerificationResult.objects.current().exists()
    assert latest_outcome(check, model).kim_id == "ER_000000000002_000"


def test_a_build_error_belongs_to_no_pair():
    make_error(None, 1, category=Error.Category.BUILD, built_item="LJ__MD_000000000020_000")
    assert not Error.objects.latest_per_pair().exists()
    assert not Error.objects.current().exists()


def test_latest_outcome_of_a_verification_check_includes_its_errors():
    check, newer_check = make_check(version=0), make_check(version=1)
    model = make_model()
    make_verification_result(check, model, 1, grade="A")
    make_error(model, 2, check=newer_check, minutes=-10)  # earlier, but of the newer version
    assert latest_outcome(check, model).kim_id == "ER_000000000002_000"


def test_current_outcome_keys_answers_every_pair_of_a_grid_in_a_fixed_number_of_queries():
    tests = [make_test(number=n) for n in (50, 51, 52)]
    models = [make_model(number=n) for n in (30, 31)]
    check = make_check()
    make_result(tests[0], models[0], 1)
    make_error(models[1], 2, test=tests[0])                        # an error is an outcome
    make_result(tests[1], models[0], 3, stale=True)               # stale: not current
    make_result(tests[2], models[1], 4, minutes=0)
    make_error(models[1], 5, test=tests[2], minutes=1, stale=True)  # supersedes 4, and is stale
    make_verification_result(check, models[0], 6)
    with CaptureQueriesContext(connection) as queries:
        keys = current_outcome_keys([*tests, check], models)
    assert {k for k in keys} == {
        ("TE", "000000000050", 0, "000000000030", 0),
        ("TE", "000000000050", 0, "000000000031", 0),
        ("VC", "000000000060", 0, "000000000030", 0),
    }
    assert outcome_key(tests[0], models[1]) in keys
    assert len(queries) == 4, "two tables for each kind of runner, one query each"


def test_kim_obj_finds_a_result_by_its_exact_id_not_by_a_like_scan():
    test, model = make_test(), make_model()
    make_result(test, model, 1)
    wanted = make_result(test, model, 100000000001)
    with CaptureQueriesContext(connection) as queries:
        assert kim_obj("TR_100000000001_000") == wanted
        assert kim_obj("TR_100000000001") == wanted
        assert kim_obj("Named__TR_000000000001_000").kim_id == "TR_000000000001_000"
    sql = " ".join(q["sql"] for q in queries).upper()
    assert "LIKE" not in sql and "GLOB" not in sql


def test_species_filter_compares_whole_elements_without_a_like_scan():
    argon = make_model(species=["Ar"])
    nickel_alloy = make_model(number=32, name="EAM_AlNi", species=["Al", "Ni"])
    with CaptureQueriesContext(connection) as queries:
        assert list(type(argon).objects.with_species("ar")) == [argon]
        assert list(type(argon).objects.with_species("Ni")) == [nickel_alloy]
        assert not type(argon).objects.with_species("A").exists()
    assert all("LIKE" not in q["sql"].upper() for q in queries)
