"""A curator's approval of a pending model: granted when every mandatory check it matches has
passed, or on an explicit override with the curator's name and a reason; kept as an
``ApprovalDecision`` with the grades as they stood. The admin action and ``manage.py approve``
both call ``approve``.
"""

import logging
from dataclasses import dataclass, field

from django.db import transaction

from repository.errors import PipelineError
from repository.grades import NOT_RUN, blocking, check_grades, grades_snapshot
from repository.models import ApprovalDecision, Model, Status
from runner.director.decide import SubmitReport
from runner.director.fanout import approve_model, checks_for
from runner.models import Job

log = logging.getLogger("pipeline.director")


class ApprovalRefused(PipelineError):
    """An approval the rules do not allow (an override without a reason, a model not pending)."""


@dataclass
class Approval:
    approved: bool
    report: SubmitReport
    decision: ApprovalDecision | None = None
    blocking: list = field(default_factory=list)  # CheckGrade rows of mandatory checks not passed

    def __str__(self):
        return "; ".join(self.report.notes) or ("approved" if self.approved else "not approved")


def approve(model: Model, *, curator: str, override: bool = False, reason: str = "",
            priority=Job.Priority.NORMAL) -> Approval:
    """Approve ``model`` if its mandatory checks passed (or ``override`` with a ``reason``).

    Checks not run yet are queued first and the model stays pending (approve_model). A refused
    approval changes nothing; a granted one is recorded, then the model's tests are submitted.
    """
    reason = reason.strip()
    if not curator:
        raise ApprovalRefused("an approval needs the curator's name", kim_id=model.kim_id)
    if override and not reason:
        raise ApprovalRefused("an override needs a reason", kim_id=model.kim_id)
    if model.status == Status.APPROVED:
        raise ApprovalRefused("the model is already approved", kim_id=model.kim_id)
    grades = check_grades(model, checks_for(model))
    held = blocking(grades)
    with transaction.atomic():
        approved, report = approve_model(model, priority=priority, override=override)
        if not approved:
            # Checks not run yet were queued: the curator waits for them, no override asked.
            waiting = any(row.grade == NOT_RUN for row in held)
            return Approval(False, report, None, [] if waiting else held)
        decision = ApprovalDecision.objects.create(
            model=model, curator=curator, override=bool(held), reason=reason,
            grades=grades_snapshot(grades))
    if held:
        log.warning("%s approved by %s over %s: %s", model.kim_id, curator,
                    ", ".join(f"{row.check.kim_id} ({row.grade})" for row in held), reason)
    return Approval(True, report, decision, held)
