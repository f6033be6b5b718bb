"""Each broken model is caught by the check meant for its defect and passed by the nine others."""

import pytest

from .. import broken
from .running import figures, run_check

pytestmark = [pytest.mark.kimapi, pytest.mark.slow, pytest.mark.django_db, pytest.mark.dbneutral]

PAIRS = [(kim_id, check) for kim_id in broken.variants() for check in broken.CHECKS]


@pytest.mark.parametrize(("kim_id", "check"), PAIRS, ids=[f"{m.split('__')[0]}-{c}" for m, c in PAIRS])
def test_each_defect_is_caught_by_its_check_alone(broken_models, kim_id, check):
    result = run_check(check, kim_id)
    assert result.grade == broken.expected_grade(check, broken_models[kim_id]), (
        result.instances[0]["vc-comment"]["source-value"], figures(result))
