"""Deciding jobs: which of the pairs asked for need a job, with their missing upstream pairs.

Jobs are decided in bulk (a few queries per runner, one ``bulk_create``) and handed to the
broker (runner.dispatch) only after the transaction commits. "Has a current outcome" is the
repository's one definition (``repository.models.current_outcome_keys``). The test graph
(cycles, depth) is ``Test.depends_on``, filled at import by
``repository.dependencies.declared_upstream``; the upstream *pairs* a job waits for are
``runner.template.upstream_of``, the very pairs the runner requires
(``required_upstream``): each upstream test on the job's model, or on the model the runner
names literally. A ``Job.blocked_on`` entry is the upstream runner's ID (on the job's own
subject) or ``[runner, subject]`` (on a fixed model).
"""

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field

from django.conf import settings
from django.db import IntegrityError, transaction

from repository import dependencies
from repository.errors import DependencyTooDeep, PipelineError
from repository.models import Error, Test, current_outcome_keys, outcome_key
from runner import dispatch as broker
from runner.models import Job
from runner.template.upstream import RunnerUpstream, upstream_of

log = logging.getLogger("pipeline.director")


def max_dependency_depth() -> int:
    return settings.PIPELINE_MAX_DEPENDENCY_DEPTH


def parse_priority(text) -> int:
    """``"very high"``, ``"very_high"``, ``"1"`` or a Priority → its integer."""
    if isinstance(text, int):
        return Job.Priority(text).value
    cleaned = str(text).strip().lower().replace("_", " ").replace("-", " ")
    if cleaned.isdigit():
        return Job.Priority(int(cleaned)).value
    for value, label in Job.Priority.choices:
        if label == cleaned:
            return value
    names = ", ".join(label for _, label in Job.Priority.choices)
    raise PipelineError(f"unknown priority {text!r}; one of: {names}")


def higher(priority: int) -> int:
    """Upstream pairs go one step ahead of the pair waiting for them (2012: priority/10)."""
    return max(Job.Priority.IMMEDIATE, priority - 1)


@dataclass
class SubmitReport:
    """What one decision did: the jobs made and the pairs it left alone, with why."""

    jobs: list[Job] = field(default_factory=list)
    up_to_date: int = 0
    #: Of ``up_to_date``, the pairs whose current outcome is an Error (``submit --errors`` runs them).
    errored: int = 0
    already_active: int = 0
    #: Live jobs whose priority this decision raised (asked for again, at a higher priority).
    raised: int = 0
    notes: list[str] = field(default_factory=list)

    @property
    def queued(self) -> int:
        return sum(1 for job in self.jobs if job.state == Job.State.QUEUED)

    @property
    def waiting(self) -> int:
        return sum(1 for job in self.jobs if job.state == Job.State.WAITING)

    def merge(self, other: "SubmitReport") -> "SubmitReport":
        self.jobs += other.jobs
        self.up_to_date += other.up_to_date
        self.errored += other.errored
        self.already_active += other.already_active
        self.raised += other.raised
        self.notes += other.notes
        return self

    def __str__(self) -> str:
        current = (f"{self.up_to_date} pairs already have a current outcome, {self.errored} of "
                   "them an error (submit --errors runs those again)" if self.errored else
                   f"{self.up_to_date} pairs already have a current result")
        text = (f"{len(self.jobs)} new jobs ({self.queued} queued, {self.waiting} waiting); "
                f"{current}; {self.already_active} already queued or running")
        if self.raised:
            text += f" ({self.raised} of them raised to the priority asked)"
        if self.notes:
            text += "; " + "; ".join(self.notes)
        return text


# --- the dependency graph ---------------------------------------------------------------


def _latest_tests_by_number(numbers: Iterable[str]) -> dict[str, Test]:
    numbers = set(numbers)
    if not numbers:
        return {}
    return {t.number: t for t in Test.objects.filter(number__in=numbers).latest_versions()}


def upstream_map(tests: Iterable[Test]) -> dict[int, list[Test]]:
    """test pk → the latest version of each test it depends on (lineage-level edges), in bulk."""
    tests = list(tests)
    through = Test.depends_on.through
    edges = list(through.objects.filter(from_test_id__in=[t.pk for t in tests])
                 .values_list("from_test_id", "to_test__number"))
    latest = _latest_tests_by_number(number for _, number in edges)
    result: dict[int, list[Test]] = {t.pk: [] for t in tests}
    for source, number in edges:
        upstream = latest.get(number)
        if upstream is not None and upstream not in result[source]:
            result[source].append(upstream)
    return result


def upstream_tests(test: Test) -> list[Test]:
    return upstream_map([test])[test.pk]


def downstream_tests(test: Test) -> list[Test]:
    """Latest versions of the tests that depend on any version of ``test``'s lineage."""
    through = Test.depends_on.through
    numbers = set(through.objects.filter(to_test__number=test.number)
                  .values_list("from_test__number", flat=True))
    return list(_latest_tests_by_number(numbers).values())


def _upstreams(runners: list) -> dict[str, RunnerUpstream]:
    """runner KIM ID → the pairs it reads (runner.template.upstream_of), a few queries per 500."""
    found: dict[str, RunnerUpstream] = {}
    for chunk in _chunks(runners):
        found.update(upstream_of(chunk))
    for kim_id, upstream in found.items():
        # Nothing to wait for: the run reports it (runner.template.required_upstream).
        for problem in ([upstream.error] if upstream.error else []) + upstream.unresolved:
            log.warning("%s: an upstream reference cannot be waited for: %s", kim_id, problem)
    return found


def blocker_entry(runner_kim_id: str, subject_kim_id: str, own_subject: str):
    """A ``Job.blocked_on`` entry: the runner's ID on the job's own subject, else [runner, subject]."""
    return runner_kim_id if subject_kim_id == own_subject else [runner_kim_id, subject_kim_id]


def blocker_pair(entry, own_subject: str) -> tuple[str, str]:
    """The (runner, subject) pair a ``Job.blocked_on`` entry names."""
    if isinstance(entry, str):
        return entry, own_subject
    runner_kim_id, subject_kim_id = entry
    return runner_kim_id, subject_kim_id


def check_dependency_graph(test: Test, *, bound: int | None = None) -> None:
    """Refuse a cycle or a chain deeper than ``bound`` (repository.dependencies.check_graph)."""
    bound = max_dependency_depth() if bound is None else bound
    dependencies.check_graph(test, upstream_tests, bound=bound)


# --- current outcomes and live jobs, in bulk ----------------------------------------------


def _chunks(items: list, size: int = 500):
    for start in range(0, len(items), size):
        yield items[start:start + size]


def _active_pairs(runners: list, models: list) -> set[tuple[str, str]]:
    if len(runners) <= len(models):
        ids, column = sorted({r.kim_id for r in runners}), "runner_kim_id__in"
    else:
        ids, column = sorted({m.kim_id for m in models}), "subject_kim_id__in"
    pairs: set[tuple[str, str]] = set()
    for chunk in _chunks(ids):
        pairs.update(Job.objects.active().filter(**{column: chunk})
                     .values_list("runner_kim_id", "subject_kim_id"))
    return pairs


def _current_error_keys(runners: list, models: list) -> set[tuple]:
    """``outcome_key`` of the pairs among these whose current outcome is an Error."""
    keys: set[tuple] = set()
    for leader, column in (("TE", "test"), ("VC", "verification_check")):
        numbers = sorted({r.number for r in runners if r.leader == leader})
        subjects = sorted({m.number for m in models})
        for chunk in _chunks(numbers):
            rows = (Error.objects.filter(**{f"{column}__isnull": False}, runner_number__in=chunk,
                                         subject_number__in=subjects).current()
                    .values_list("runner_number", "runner_version", "subject_number",
                                 "subject_version"))
            keys.update((leader, *row) for row in rows)
    return keys


def _raise_priorities(raise_to: dict[tuple[str, str], int]) -> int:
    """Give live, not yet running jobs the higher priority they were asked for again with."""
    if not raise_to:
        return 0
    by_priority: dict[int, list[int]] = {}
    lowest_asked = min(raise_to.values())
    for chunk in _chunks(sorted({runner for runner, _ in raise_to})):
        rows = Job.objects.filter(state__in=[Job.State.WAITING, Job.State.QUEUED],
                                  runner_kim_id__in=chunk, priority__gt=lowest_asked) \
            .values_list("pk", "runner_kim_id", "subject_kim_id", "priority")
        for pk, runner, subject, priority in rows:
            asked = raise_to.get((runner, subject))
            if asked is not None and priority > asked:
                by_priority.setdefault(asked, []).append(pk)
    raised = 0
    for priority, ids in by_priority.items():
        for chunk in _chunks(ids):
            raised += Job.objects.filter(pk__in=chunk, state__in=[Job.State.WAITING,
                                                                   Job.State.QUEUED]) \
                .update(priority=priority)
    return raised


# --- planning -------------------------------------------------------------------------------


class _Plan:
    def __init__(self):
        self.jobs: dict[tuple[str, str], Job] = {}
        self.report = SubmitReport()
        self.upstreams: dict[str, RunnerUpstream] = {}
        self.checked: set[str] = set()
        #: (runner ID, subject ID) → the priority a live job of that pair should have at least.
        self.raise_to: dict[tuple[str, str], int] = {}


def _plan_pairs(plan: _Plan, pairs: list[tuple], *, priority: int, force: bool, reason: str,
                depth: int = 0, count: bool = True) -> None:
    if not pairs:
        return
    if depth > max_dependency_depth():
        raise DependencyTooDeep([pairs[0][0].kim_id], max_dependency_depth())
    runners = list({r.kim_id: r for r, _ in pairs}.values())
    models = list({m.kim_id: m for _, m in pairs}.values())
    current = current_outcome_keys(runners, models) if not force else set()
    errored = _current_error_keys(runners, models) if current else set()
    active = _active_pairs(runners, models)

    chosen: list[tuple] = []
    bumped: list[tuple] = []
    for runner, model in pairs:
        key = (runner.kim_id, model.kim_id)
        if key in plan.jobs:
            # Needed again, deeper in the graph: it must run before everything that needs it.
            job = plan.jobs[key]
            if priority < job.priority:
                job.priority = priority
                bumped.append((runner, model, job))
            plan.report.already_active += count
            continue
        if key in active:
            plan.report.already_active += count
            plan.raise_to[key] = min(priority, plan.raise_to.get(key, priority))
            continue
        if outcome_key(runner, model) in current:
            plan.report.up_to_date += count
            plan.report.errored += count * (outcome_key(runner, model) in errored)
            continue
        job = Job(runner_kim_id=runner.kim_id, subject_kim_id=model.kim_id, priority=priority,
                  reason=reason[:200], force=force, state=Job.State.QUEUED, blocked_on=[])
        plan.jobs[key] = job
        chosen.append((runner, model, job))

    fresh = [r for r in runners if r.kim_id not in plan.upstreams]
    if fresh:
        plan.upstreams.update(_upstreams(fresh))
    for test in runners:
        if isinstance(test, Test) and plan.upstreams[test.kim_id].pairs and \
                test.number not in plan.checked:
            check_dependency_graph(test)
            plan.checked.add(test.number)

    # Exactly the pairs the runner will require (runner.template.required_upstream).
    needs = [(upstream, subject, job) for runner, model, job in chosen
             for upstream, subject in plan.upstreams[runner.kim_id].for_model(model)
             if (upstream.kim_id, subject.kim_id) != (runner.kim_id, model.kim_id)]
    rebump = {(u.kim_id, s.kim_id): (u, s) for runner, model, _ in bumped
              for u, s in plan.upstreams[runner.kim_id].for_model(model)
              if (u.kim_id, s.kim_id) in plan.jobs}
    if not needs and not rebump:
        return
    upstream_runners = list({u.kim_id: u for u, _, _ in needs}.values())
    needed_models = list({m.kim_id: m for _, m, _ in needs}.values())
    upstream_current = current_outcome_keys(upstream_runners, needed_models)
    upstream_active = _active_pairs(upstream_runners, needed_models)
    missing: dict[tuple[str, str], tuple] = dict(rebump)
    for upstream, subject, job in needs:
        if outcome_key(upstream, subject) in upstream_current:
            continue
        job.blocked_on.append(blocker_entry(upstream.kim_id, subject.kim_id, job.subject_kim_id))
        job.state = Job.State.WAITING
        key = (upstream.kim_id, subject.kim_id)
        if key not in upstream_active:
            missing[key] = (upstream, subject)
    _plan_pairs(plan, list(missing.values()), priority=higher(priority), force=False,
                reason=f"upstream of {reason}" if reason.startswith("upstream") else
                f"upstream: {reason}", depth=depth + 1, count=False)


def submit_pairs(pairs: Iterable[tuple], *, priority=Job.Priority.NORMAL, force: bool = False,
                 reason: str = "", dispatch: bool = True) -> SubmitReport:
    """Make the jobs ``pairs`` (runner, model) call for, with their missing upstream pairs.

    A pair with a current (non-stale) result for the same versions is left alone unless
    ``force``; a pair with a live job is never doubled. Queued jobs are dispatched to the
    broker after commit.
    """
    pairs = list(pairs)
    priority = parse_priority(priority)
    for attempt in range(3):
        plan = _Plan()
        _plan_pairs(plan, pairs, priority=priority, force=force, reason=reason)
        jobs = list(plan.jobs.values())
        try:
            with transaction.atomic():
                # PostgreSQL and SQLite >= 3.35 return the new ids (RETURNING).
                created = Job.objects.bulk_create(jobs, batch_size=500)
                plan.report.raised = _raise_priorities(plan.raise_to)
                queued = [job.pk for job in sorted(created, key=lambda j: (j.priority, j.pk))
                          if job.state == Job.State.QUEUED]
                if dispatch and queued:
                    transaction.on_commit(lambda ids=queued: broker.dispatch(ids))
        except IntegrityError:
            # Another director made one of these pairs live meanwhile: decide again.
            log.info("pairs changed while deciding (attempt %d); deciding again", attempt + 1)
            continue
        plan.report.jobs = created
        if created:
            log.info("%s (%s)", plan.report, reason or "no reason given")
        return plan.report
    raise PipelineError("could not decide jobs: other directors kept changing the same pairs")


