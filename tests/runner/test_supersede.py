"""A re-run's outcome supersedes the pair's other outcomes of the same versions (runner.pairs)."""

import pytest

from repository.models import Error, TestResult, VerificationResult
from runner.pairs import supersede
from tests.factories import (
    make_check,
    make_error,
    make_model,
    make_result,
    make_test,
    make_verification_result,
)

pytestmark = pytest.mark.django_db


def test_supersede_marks_the_pairs_other_outcomes_of_the_same_versions_in_both_tables():
    t0, t1 = make_test(version=0), make_test(version=1)
    model, other_model = make_model(), make_model(number=34, name="Other")
    old_result = make_result(t1, model, 1, minutes=1)
    old_error = make_error(model, 2, test=t1, minutes=2)
    already_stale = make_result(t1, model, 3, minutes=3, stale=True)
    make_result(t0, model, 4, minutes=4)              # another test version
    make_error(other_model, 5, test=t1, minutes=5)    # another model
    make_verification_result(make_check(), model, 6, minutes=6)  # a check's, not the test's
    new = make_result(t1, model, 7, minutes=7)

    assert supersede(new) == [old_error.kim_id, old_result.kim_id]
    stale = {row.kim_id for table in (TestResult, Error, VerificationResult)
             for row in table.objects.filter(stale=True)}
    assert stale == {old_result.kim_id, old_error.kim_id, already_stale.kim_id}
    assert supersede(new) == [], "nothing left to mark"
