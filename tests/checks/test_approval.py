"""Approval on the checks' grades: refused without the mandatory passes, granted over them only
with a curator's override and reason (kept as an ApprovalDecision), then the tests are submitted."""

import pytest
from django.contrib import admin
from django.contrib.messages.storage.cookie import CookieStorage
from django.core.management import CommandError, call_command
from django.template.response import TemplateResponse

from repository.models import ApprovalDecision, Model, Status
from runner import admin_actions
from runner.director import approval
from runner.models import Job
from tests.factories import (
    AR_MODELS,
    make_check,
    make_error,
    make_model,
    make_test,
    make_verification_result,
)

pytestmark = [pytest.mark.kimapi, pytest.mark.django_db]


@pytest.fixture
def cast(repository_dir):
    """A test, a mandatory and an informational check, a pending model that ran both checks."""
    test = make_test("NoOp_Ar", 1, root=repository_dir)
    mandatory = make_check("SpeciesSupportedAsStated", 2, root=repository_dir, category="mandatory")
    informational = make_check("MemoryLeak", 3, root=repository_dir, category="informational")
    model = make_model(AR_MODELS[0], status=Status.PENDING)
    return test, mandatory, informational, model


def test_a_failed_mandatory_check_keeps_the_model_pending(cast):
    test, mandatory, informational, model = cast
    make_verification_result(mandatory, model, 1, grade="F")
    make_verification_result(informational, model, 2, grade="P")

    outcome = approval.approve(model, curator="ana")

    assert not outcome.approved and [row.check for row in outcome.blocking] == [mandatory]
    assert "mandatory checks not passed" in str(outcome) and f"{mandatory.kim_id} (F)" in str(outcome)
    model.refresh_from_db()
    assert model.status == Status.PENDING
    assert not ApprovalDecision.objects.exists()
    assert not Job.objects.filter(runner_kim_id=test.kim_id).exists()


def test_a_check_whose_code_failed_is_no_pass(cast):
    _, mandatory, informational, model = cast
    make_error(model, 1, check=mandatory, message="Traceback: KeyError in the check")
    make_verification_result(informational, model, 2, grade="P")

    outcome = approval.approve(model, curator="ana")

    assert not outcome.approved and [row.grade for row in outcome.blocking] == ["Error"]


def test_an_override_needs_a_reason_and_is_recorded_with_the_curator(cast):
    test, mandatory, informational, model = cast
    make_verification_result(mandatory, model, 1, grade="F")
    make_verification_result(informational, model, 2, grade="F")

    with pytest.raises(approval.ApprovalRefused, match="needs a reason"):
        approval.approve(model, curator="ana", override=True, reason="  ")
    outcome = approval.approve(model, curator="ana", override=True,
                               reason="Xe is refused on purpose; the paper says so")

    assert outcome.approved
    decision = ApprovalDecision.objects.get(model=model)
    assert (decision.curator, decision.override) == ("ana", True)
    assert decision.reason == "Xe is refused on purpose; the paper says so"
    assert decision.grades == {mandatory.kim_id: "F", informational.kim_id: "F"}
    model.refresh_from_db()
    assert model.status == Status.APPROVED
    assert [job.runner_kim_id for job in outcome.report.jobs] == [test.kim_id]


def test_passing_mandatory_checks_approve_without_an_override(cast):
    test, mandatory, informational, model = cast
    make_verification_result(mandatory, model, 1, grade="P")
    make_verification_result(informational, model, 2, grade="F")  # informational: no gate

    outcome = approval.approve(model, curator="ben")

    assert outcome.approved and outcome.blocking == []
    decision = ApprovalDecision.objects.get(model=model)
    assert decision.override is False and decision.grades[informational.kim_id] == "F"
    assert Job.objects.filter(runner_kim_id=test.kim_id, subject_kim_id=model.kim_id).exists()


def test_checks_not_run_yet_are_queued_first(cast):
    _, mandatory, informational, model = cast

    outcome = approval.approve(model, curator="ben", override=True, reason="in a hurry")

    assert not outcome.approved and outcome.blocking == []  # nothing to override yet
    assert {j.runner_kim_id for j in outcome.report.jobs} == {mandatory.kim_id, informational.kim_id}
    assert not ApprovalDecision.objects.exists()


def test_the_command_refuses_then_approves_with_an_override(cast, capsys):
    _, mandatory, informational, model = cast
    make_verification_result(mandatory, model, 1, grade="N/A")
    make_verification_result(informational, model, 2, grade="P")

    with pytest.raises(CommandError, match="--override"):
        call_command("approve", model.kim_id, curator="cli")
    with pytest.raises(CommandError, match="needs a reason"):
        call_command("approve", model.kim_id, "--override", curator="cli")
    call_command("approve", model.kim_id, "--override", "--reason", "N/A: no kimspec species",
                 curator="cli")

    assert "with an override by cli" in capsys.readouterr().out
    assert ApprovalDecision.objects.get(model=model).reason == "N/A: no kimspec species"


def action_request(rf, user, data=None):
    request = rf.post("/admin/", data or {})
    request.user = user
    request._messages = CookieStorage(request)
    return request


def test_the_admin_action_asks_for_a_reason_before_overriding(cast, rf, admin_user):
    _, mandatory, informational, model = cast
    make_verification_result(mandatory, model, 1, grade="F")
    make_verification_result(informational, model, 2, grade="P")
    model_admin = admin.site._registry[Model]

    page = admin_actions.approve(model_admin, action_request(rf, admin_user), Model.objects.all())
    assert isinstance(page, TemplateResponse)
    text = page.render().content.decode()
    assert mandatory.kim_id in text and 'name="reason"' in text and 'value="yes"' in text
    model.refresh_from_db()
    assert model.status == Status.PENDING

    answer = action_request(rf, admin_user, {"override": "yes", "reason": "known F, accepted"})
    assert admin_actions.approve(model_admin, answer, Model.objects.all()) is None
    decision = ApprovalDecision.objects.get(model=model)
    assert (decision.curator, decision.override) == (admin_user.username, True)


def test_the_model_page_shows_the_grades_with_their_figures(cast, admin_client):
    _, mandatory, informational, model = cast
    figure = {"property-id": "tag:tadmor@noreply.openkim.org,2017-02-01:property/verification-check",
              "vc-name": {"source-value": "SpeciesSupportedAsStated/random-clusters"},
              "vc-grade": {"source-value": "F"},
              "vc-comment": {"source-value": "never computed: ['Xe']"}}
    make_verification_result(mandatory, model, 1, grade="F", instances=[{}, figure])

    page = admin_client.get(f"/admin/repository/model/{model.pk}/change/")

    text = page.content.decode()
    assert page.status_code == 200
    assert "verification-grades" in text and "random-clusters" in text
    assert "never computed: [&#x27;Xe&#x27;]" in text and "Approval needs an override" in text
    assert f"{informational.kim_id}</td><td>informational</td>" in text and "not run" in text
