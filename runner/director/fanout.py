"""What an item calls for: the fan-out of a new, changed or approved item into pairs, and approval.

A test runs on the latest versions of the approved models it matches; a check on every
latest model it matches (checks gate approval); a new driver forces its items' pairs.
"""

import logging

from django.db import transaction

from repository import grades, matching
from repository.errors import PipelineError
from repository.kimcodes import RESULT_LEADERS
from repository.models import (
    Model,
    ModelDriver,
    Status,
    Test,
    TestDriver,
    VerificationCheck,
    current_outcome_keys,
    kim_obj,
    outcome_key,
)
from runner.director.decide import SubmitReport, higher, submit_pairs
from runner.models import Job
from runner.sync import hooks as sync_hooks

log = logging.getLogger("pipeline.director")


def _models_for(runner) -> list[Model]:
    """Latest versions of the models a runner matches; tests only see approved models."""
    latest = set(Model.objects.latest_versions().values_list("pk", flat=True))
    models = [m for m in matching.matching_models(runner) if m.pk in latest]
    if isinstance(runner, Test):
        models = [m for m in models if m.status == Status.APPROVED]
    return models


def _runners_for(model: Model) -> list:
    """Latest versions of the runners a model matches; a pending model gets only the checks."""
    latest = {("TE", pk) for pk in
              Test.objects.latest_versions().approved().values_list("pk", flat=True)}
    latest |= {("VC", pk) for pk in
               VerificationCheck.objects.latest_versions().values_list("pk", flat=True)}
    runners = [r for r in matching.matching_runners(model) if (r.leader, r.pk) in latest]
    if model.status != Status.APPROVED:
        runners = [r for r in runners if isinstance(r, VerificationCheck)]
    # Checks first: they are quick and gate approval.
    return sorted(runners, key=lambda r: r.leader != "VC")


def pairs_for_item(item) -> tuple[list[tuple], list[str], bool]:
    """(pairs, notes, forced) an item calls for: its fan-out by kind, latest versions only."""
    notes: list[str] = []
    if not item.is_latest_version:
        return [], [f"{item.kim_id} is not the latest version: nothing to run"], False
    if isinstance(item, Test):
        if item.status != Status.APPROVED:
            return [], [f"{item.kim_id} is pending: tests run once approved"], False
        return [(item, m) for m in _models_for(item)], notes, False
    if isinstance(item, VerificationCheck):
        return [(item, m) for m in _models_for(item)], notes, False
    if isinstance(item, Model):
        return [(r, item) for r in _runners_for(item)], notes, False
    if isinstance(item, TestDriver):
        # A new driver changes what its tests compute: their results for the same versions are
        # no longer current, so these pairs are forced.
        pairs = []
        for test in Test.objects.filter(driver__number=item.number).latest_versions().approved():
            pairs += [(test, m) for m in _models_for(test)]
        return pairs, notes, True
    if isinstance(item, ModelDriver):
        pairs = []
        for model in Model.objects.filter(driver__number=item.number).latest_versions():
            pairs += [(r, model) for r in _runners_for(model)]
        return pairs, notes, True
    return [], [f"{item.kim_id}: a {item._meta.verbose_name} runs nothing by itself"], False


def on_item_changed(item, *, priority=Job.Priority.NORMAL, force: bool = False,
                    reason: str = "", dispatch: bool = True) -> SubmitReport:
    """The jobs for an item that was imported, updated or approved (the 2012 ``push_jobs``)."""
    if isinstance(item, str):
        item = kim_obj(item)
    sync_hooks.before_decide(item)  # with a remote: the folders this decision names (docs/SYNC.md)
    pairs, notes, forced = pairs_for_item(item)
    report = submit_pairs(pairs, priority=priority, force=force or forced,
                          reason=reason or f"{item.kim_id} changed", dispatch=dispatch)
    report.notes = notes + report.notes
    return report


def submit(kim_id: str, *, priority=Job.Priority.NORMAL, force: bool = False,
           dispatch: bool = True) -> SubmitReport:
    """``manage.py submit``: the fan-out of one item by KIM ID (no version: the latest)."""
    leader = str(kim_id).split("__")[-1][:2].upper()
    if leader in RESULT_LEADERS:
        raise PipelineError(f"{kim_id} is a result, not an item: submit takes a test, a check, "
                            "a model or a driver (to compute a pair again: runpair TEST MODEL "
                            "--force, or submit --errors)", kim_id=kim_id)
    return on_item_changed(kim_obj(kim_id), priority=priority, force=force,
                           reason=f"submitted {kim_id}", dispatch=dispatch)


#: ``submit --all --checks``: which checks run on models already approved (pending models
#: always get every check, since the checks gate their approval).
CHECKS_ON_APPROVED = ("mandatory", "all", "none")


def submit_all(*, priority=Job.Priority.NORMAL, force: bool = False,
               dispatch: bool = True, checks: str = "mandatory") -> SubmitReport:
    """``manage.py submit --all``: what a whole repository calls for, in one bulk decision.

    Every latest test against its matching approved models, every check against pending
    models, and on approved models the checks ``checks`` names: the mandatory ones by default
    (ten checks on each of the ~440 installed models are hours of CPU on two cores; ``"all"``
    asks for them).
    """
    if checks not in CHECKS_ON_APPROVED:
        raise ValueError(f"checks must be one of {', '.join(CHECKS_ON_APPROVED)}, not {checks!r}")
    pairs, notes = [], []
    items = [*Test.objects.latest_versions(), *VerificationCheck.objects.latest_versions(),
             *Model.objects.latest_versions().exclude(status=Status.APPROVED)]
    for item in items:
        item_pairs, item_notes, _ = pairs_for_item(item)
        if isinstance(item, VerificationCheck) and checks != "all":
            wanted = checks == "mandatory" and item.category == VerificationCheck.Category.MANDATORY
            item_pairs = [(c, m) for c, m in item_pairs if wanted or m.status != Status.APPROVED]
        pairs += item_pairs
        notes += item_notes
    report = submit_pairs(pairs, priority=priority, force=force, reason="submit --all",
                          dispatch=dispatch)
    report.notes = notes + report.notes
    return report


def verification_pending(model: Model) -> list:
    """The checks a model matches that have no current outcome for it yet."""
    checks = checks_for(model)
    current = current_outcome_keys(checks, [model])
    return [c for c in checks if outcome_key(c, model) not in current]


def checks_for(model: Model) -> list:
    """The latest checks the model matches (those that gate its approval)."""
    return [r for r in _runners_for(model) if isinstance(r, VerificationCheck)]


def approve_model(model: Model, *, priority=Job.Priority.NORMAL, require_checks: bool = True,
                  override: bool = False) -> tuple[bool, SubmitReport]:
    """Approve a pending model once its checks have run; then it runs against every test.

    With checks still missing, the model stays pending and the missing checks are queued
    (ahead of anything normal), so a curator approves on evidence. A mandatory check that has
    not passed keeps it pending too, unless ``override`` (runner.director.approval records who
    and why).
    """
    missing = verification_pending(model) if require_checks else []
    if missing:
        report = submit_pairs([(c, model) for c in missing], priority=higher(priority),
                              reason=f"checks before approving {model.kim_id}")
        report.notes.append(f"{model.kim_id} stays pending: {len(missing)} checks not finished")
        return False, report
    held = grades.blocking(grades.check_grades(model, checks_for(model))) if require_checks else []
    if held and not override:
        report = SubmitReport()
        report.notes.append(f"{model.kim_id} stays pending: mandatory checks not passed: "
                            + ", ".join(f"{row.check.kim_id} ({row.grade})" for row in held))
        return False, report
    model.status = Status.APPROVED
    model.save(update_fields=["status", "updated_at"])
    log.info("approved %s", model.kim_id)
    # With a remote: TEMP_* → the real areas (docs/SYNC.md), once the approval is committed
    # (never rsync inside a transaction: SQLite's write lock would be held for the transfer).
    transaction.on_commit(lambda: sync_hooks.after_approve(model))
    return True, on_item_changed(model, priority=priority, reason=f"approved {model.kim_id}")


