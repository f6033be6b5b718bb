"""Running one pair on a curator's request, safely: ``runpair`` and the Python ``test(model)``.

A pair that already has a current outcome is shown, not run again, unless forced; a forced
re-run supersedes the outcome it replaces (marked stale, so one outcome per pair and versions
is current). A pair the matching rules refuse is refused with the rule's reason and nothing is
written, unless forced (then the mismatch Error is kept, as ``run_pair`` records it). A result
that lands re-queues what reads it, as when a job lands; the jobs it queued are part of the
answer, said after the result.
"""

from dataclasses import dataclass, field

from django.db import transaction

from repository.errors import PipelineError
from repository.matching import Verdict, match
from repository.models import MODEL_FOR_LEADER, Model, TestResult, latest_outcome
from repository.models.current import outcome_tables
from runner import director
from runner.execute import run_pair


class PairRefused(PipelineError):
    """The matching rules refuse the pair: it is not run and nothing is written."""

    def __init__(self, runner_item, model: Model, verdict: Verdict):
        self.verdict = verdict
        super().__init__(f"{runner_item.kim_id} does not run on {model.kim_id}: rule "
                         f"{verdict.rule}: {verdict.reason}; --force (force=True) runs it anyway "
                         "and keeps the mismatch Error")


@dataclass
class PairRun:
    """What a curator's request for one pair did, or (dry run) would do."""

    runner: object
    model: Model
    #: The outcome this request kept; None when it ran nothing.
    outcome: object = None
    #: The current outcome that made a run unnecessary (not forced), or that a re-run superseded.
    existing: object = None
    #: Outcomes the re-run marked stale: superseded by ``outcome``.
    superseded: list[str] = field(default_factory=list)
    #: The jobs a landed result queued downstream (director.upstream_changed).
    downstream: director.SubmitReport | None = None
    #: Dry run: the downstream tests whose pairs on this model a result would queue again.
    would_queue: list[str] = field(default_factory=list)
    dry_run: bool = False
    force: bool = False

    @property
    def ran(self) -> bool:
        return self.outcome is not None


def current_for_versions(runner_item, model: Model):
    """The pair's current outcome if it is for exactly these versions of both items, else None."""
    outcome = latest_outcome(runner_item, model)
    if outcome is None:
        return None
    if (outcome.runner_version, outcome.subject_version) != (runner_item.version, model.version):
        return None
    return outcome


def supersede(outcome) -> list[str]:
    """Mark every other non-stale outcome of ``outcome``'s pair and versions stale; their IDs."""
    runner_item = outcome.runner
    if runner_item is None:
        return []  # a failed item build belongs to no pair
    # Almost always there is none: one question over the result and error tables (a UNION),
    # then an UPDATE only of the tables that hold some.
    candidates = [table.filter(runner_number=outcome.runner_number,
                               runner_version=outcome.runner_version,
                               subject_number=outcome.subject_number,
                               subject_version=outcome.subject_version, stale=False)
                  .exclude(kim_id=outcome.kim_id).order_by().values_list("kim_id", flat=True)
                  for table in outcome_tables(runner_item.leader)]
    marked = sorted(candidates[0].union(*candidates[1:], all=True))
    for leader in sorted({kim_id[:2] for kim_id in marked}):
        MODEL_FOR_LEADER[leader].objects.filter(
            kim_id__in=[kim_id for kim_id in marked if kim_id[:2] == leader]).update(stale=True)
    return marked


def downstream_of(runner_item, model: Model) -> list[str]:
    """The latest approved tests that read ``runner_item`` (a result of it would re-queue them)."""
    if runner_item.leader != "TE":
        return []
    return sorted(t.kim_id for t in director.downstream_tests(runner_item)
                  if t.status == "approved")


def run_requested_pair(runner_item, model: Model, *, force: bool = False, dry_run: bool = False,
                       rebuild: bool = False, dispatch: bool = True) -> PairRun:
    """Run one pair as a curator asks: see the module's docstring. Raises PairRefused."""
    answer = PairRun(runner=runner_item, model=model, dry_run=dry_run, force=force)
    verdict = match(runner_item, model)
    if not verdict.ok and not force:
        raise PairRefused(runner_item, model, verdict)
    answer.existing = current_for_versions(runner_item, model)
    if answer.existing is not None and not force:
        return answer
    if dry_run:
        answer.would_queue = downstream_of(runner_item, model)
        return answer
    answer.outcome = run_pair(runner_item, model, rebuild=rebuild)
    with transaction.atomic():
        answer.superseded = supersede(answer.outcome)
        if isinstance(answer.outcome, TestResult):
            # As when a job lands: what read the old upstream is stale and queued again.
            answer.downstream = director.upstream_changed(answer.outcome, dispatch=dispatch)
    return answer


def outcome_for_python(runner_item, model: Model, *, force: bool = False, rebuild: bool = False):
    """The 2012 ``test(model)``: the pair's current outcome, run first when it has none.

    Same rules as ``runpair``: a refused pair raises PairRefused; ``force`` re-runs.
    """
    answer = run_requested_pair(runner_item, model, force=force, rebuild=rebuild)
    return answer.outcome if answer.ran else answer.existing


__all__ = ["PairRefused", "PairRun", "current_for_versions", "outcome_for_python",
           "run_requested_pair", "supersede"]
