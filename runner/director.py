"""The director: which (runner, model) pairs an imported, updated or approved item calls for.

Plain functions over the database. Jobs are decided in bulk (a few queries per runner, one
``bulk_create``) and handed to ``runner.jobs.dispatch`` only after the transaction commits.
"""

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field

from django.conf import settings
from django.db import IntegrityError, transaction

from repository import matching
from repository.errors import PipelineError
from repository.models import (
    Error,
    Model,
    ModelDriver,
    Status,
    Test,
    TestDriver,
    TestResult,
    VerificationCheck,
    VerificationResult,
    kim_obj,
)
from runner.models import Job

log = logging.getLogger("pipeline.director")


class PipelineDependencyError(PipelineError):
    """The dependency graph of a test cannot be run as it stands."""


class DependencyCycle(PipelineDependencyError):
    """A test depends, through its upstream tests, on itself."""

    def __init__(self, cycle: list[str]):
        self.cycle = cycle
        super().__init__(f"dependency cycle: {' → '.join(cycle)}", kim_id=cycle[0])


class DependencyTooDeep(PipelineDependencyError):
    """A chain of upstream tests is longer than PIPELINE_MAX_DEPENDENCY_DEPTH."""

    def __init__(self, chain: list[str], bound: int):
        self.chain = chain
        super().__init__(f"dependency chain deeper than {bound}: {' → '.join(chain)}",
                         kim_id=chain[0])


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
    already_active: int = 0
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
        self.already_active += other.already_active
        self.notes += other.notes
        return self

    def __str__(self) -> str:
        text = (f"{len(self.jobs)} new jobs ({self.queued} queued, {self.waiting} waiting); "
                f"{self.up_to_date} pairs already have a current result; "
                f"{self.already_active} already queued or running")
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


def check_dependency_graph(test: Test, *, bound: int | None = None) -> None:
    """Refuse a cycle or a chain deeper than ``bound``, naming the tests on it."""
    bound = max_dependency_depth() if bound is None else bound
    edges: dict[int, list[Test]] = {}
    finished: set[str] = set()

    def visit(node: Test, path: list[Test]) -> None:
        if node.number in finished:
            return
        if len(path) - 1 > bound:  # edges, not tests
            raise DependencyTooDeep([t.kim_id for t in path], bound)
        if node.pk not in edges:
            edges.update(upstream_map([node]))
        for upstream in edges[node.pk]:
            numbers = [t.number for t in path]
            if upstream.number in numbers:
                cycle = path[numbers.index(upstream.number):] + [upstream]
                raise DependencyCycle([t.kim_id for t in cycle])
            visit(upstream, path + [upstream])
        finished.add(node.number)

    visit(test, [test])


# --- current outcomes and live jobs, in bulk ----------------------------------------------


def _kind(runner) -> str:
    return "TE" if isinstance(runner, Test) else "VC"


def _outcome_key(runner, model) -> tuple:
    return (_kind(runner), runner.number, runner.version, model.number, model.version)


def _chunks(items: list, size: int = 500):
    for start in range(0, len(items), size):
        yield items[start:start + size]


def outcome_tables(kind: str) -> tuple:
    """The result table and the errors of one kind of runner ("TE" or "VC")."""
    if kind == "TE":
        return TestResult.objects.all(), Error.objects.filter(test__isnull=False)
    return VerificationResult.objects.all(), Error.objects.filter(verification_check__isnull=False)


def _current_outcome_keys(runners: list, models: list) -> set[tuple]:
    """Keys of every non-stale result or error for these runners × models (any versions)."""
    keys: set[tuple] = set()
    fields = ("runner_number", "runner_version", "subject_number", "subject_version")
    for kind in ("TE", "VC"):
        runner_numbers = sorted({r.number for r in runners if _kind(r) == kind})
        if not runner_numbers:
            continue
        # Select by the smaller side (one test × 10,000 models: by the test); rows of the other
        # side's items that are not asked about are read and ignored.
        if len(runner_numbers) <= len(models):
            column, numbers = "runner_number__in", runner_numbers
        else:
            column, numbers = "subject_number__in", sorted({m.number for m in models})
        for rows in outcome_tables(kind):
            for chunk in _chunks(numbers):
                for row in rows.filter(stale=False, **{column: chunk}).values_list(*fields):
                    keys.add((kind, *row))
    return keys


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


# --- planning -------------------------------------------------------------------------------


class _Plan:
    def __init__(self):
        self.jobs: dict[tuple[str, str], Job] = {}
        self.report = SubmitReport()
        self.upstreams: dict[int, list[Test]] = {}
        self.checked: set[str] = set()


def _plan_pairs(plan: _Plan, pairs: list[tuple], *, priority: int, force: bool, reason: str,
                depth: int = 0, count: bool = True) -> None:
    if not pairs:
        return
    if depth > max_dependency_depth():
        raise DependencyTooDeep([pairs[0][0].kim_id], max_dependency_depth())
    runners = list({r.kim_id: r for r, _ in pairs}.values())
    models = list({m.kim_id: m for _, m in pairs}.values())
    current = _current_outcome_keys(runners, models) if not force else set()
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
            continue
        if _outcome_key(runner, model) in current:
            plan.report.up_to_date += count
            continue
        job = Job(runner_kim_id=runner.kim_id, subject_kim_id=model.kim_id, priority=priority,
                  reason=reason[:200], force=force, state=Job.State.QUEUED, blocked_on=[])
        plan.jobs[key] = job
        chosen.append((runner, model, job))

    tests = [r for r in runners if isinstance(r, Test) and r.pk not in plan.upstreams]
    if tests:
        plan.upstreams.update(upstream_map(tests))
    for test in runners:
        if isinstance(test, Test) and plan.upstreams.get(test.pk) and test.number not in plan.checked:
            check_dependency_graph(test)
            plan.checked.add(test.number)

    needs = [(upstream, model, job) for runner, model, job in chosen if isinstance(runner, Test)
             for upstream in plan.upstreams.get(runner.pk, [])]
    rebump = {(u.kim_id, model.kim_id): (u, model) for runner, model, _ in bumped
              if isinstance(runner, Test) for u in plan.upstreams.get(runner.pk, [])
              if (u.kim_id, model.kim_id) in plan.jobs}
    if not needs and not rebump:
        return
    upstream_runners = list({u.kim_id: u for u, _, _ in needs}.values())
    needed_models = list({m.kim_id: m for _, m, _ in needs}.values())
    upstream_current = _current_outcome_keys(upstream_runners, needed_models)
    upstream_active = _active_pairs(upstream_runners, needed_models)
    missing: dict[tuple[str, str], tuple] = dict(rebump)
    for upstream, model, job in needs:
        if _outcome_key(upstream, model) in upstream_current:
            continue
        job.blocked_on.append(upstream.kim_id)
        job.state = Job.State.WAITING
        key = (upstream.kim_id, model.kim_id)
        if key not in upstream_active:
            missing[key] = (upstream, model)
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
                queued = [job.pk for job in sorted(created, key=lambda j: (j.priority, j.pk))
                          if job.state == Job.State.QUEUED]
                if dispatch and queued:
                    from runner import jobs as job_queue
                    transaction.on_commit(lambda ids=queued: job_queue.dispatch(ids))
        except IntegrityError:
            # Another director made one of these pairs live meanwhile: decide again.
            log.info("pairs changed while deciding (attempt %d); deciding again", attempt + 1)
            continue
        plan.report.jobs = created
        if created:
            log.info("%s (%s)", plan.report, reason or "no reason given")
        return plan.report
    raise PipelineError("could not decide jobs: other directors kept changing the same pairs")


# --- what an item calls for -----------------------------------------------------------------


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
    runners = [r for r in matching.matching_runners(model) if (_kind(r), r.pk) in latest]
    if model.status != Status.APPROVED:
        runners = [r for r in runners if isinstance(r, VerificationCheck)]
    # Checks first: they are quick and gate approval.
    return sorted(runners, key=lambda r: _kind(r) != "VC")


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
    pairs, notes, forced = pairs_for_item(item)
    report = submit_pairs(pairs, priority=priority, force=force or forced,
                          reason=reason or f"{item.kim_id} changed", dispatch=dispatch)
    report.notes = notes + report.notes
    return report


def submit(kim_id: str, *, priority=Job.Priority.NORMAL, force: bool = False,
           dispatch: bool = True) -> SubmitReport:
    """``manage.py submit``: the fan-out of one item by KIM ID (no version: the latest)."""
    return on_item_changed(kim_obj(kim_id), priority=priority, force=force,
                           reason=f"submitted {kim_id}", dispatch=dispatch)


def submit_all(*, priority=Job.Priority.NORMAL, force: bool = False,
               dispatch: bool = True) -> SubmitReport:
    """``manage.py submit --all``: what a whole repository calls for, in one bulk decision.

    Every latest test and check against its matching models, and the checks of pending models.
    """
    pairs, notes = [], []
    items = [*Test.objects.latest_versions(), *VerificationCheck.objects.latest_versions(),
             *Model.objects.latest_versions().exclude(status=Status.APPROVED)]
    for item in items:
        item_pairs, item_notes, _ = pairs_for_item(item)
        pairs += item_pairs
        notes += item_notes
    report = submit_pairs(pairs, priority=priority, force=force, reason="submit --all",
                          dispatch=dispatch)
    report.notes = notes + report.notes
    return report


def verification_pending(model: Model) -> list:
    """The checks a model matches that have no current outcome for it yet."""
    checks = [r for r in _runners_for(model) if isinstance(r, VerificationCheck)]
    current = _current_outcome_keys(checks, [model])
    return [c for c in checks if _outcome_key(c, model) not in current]


def approve_model(model: Model, *, priority=Job.Priority.NORMAL,
                  require_checks: bool = True) -> tuple[bool, SubmitReport]:
    """Approve a pending model once its checks have run; then it runs against every test.

    With checks still missing, the model stays pending and the missing checks are queued
    (ahead of anything normal), so a curator approves on evidence.
    """
    missing = verification_pending(model) if require_checks else []
    if missing:
        report = submit_pairs([(c, model) for c in missing], priority=higher(priority),
                              reason=f"checks before approving {model.kim_id}")
        report.notes.append(f"{model.kim_id} stays pending: {len(missing)} checks not finished")
        return False, report
    model.status = Status.APPROVED
    model.save(update_fields=["status", "updated_at"])
    log.info("approved %s", model.kim_id)
    return True, on_item_changed(model, priority=priority, reason=f"approved {model.kim_id}")


# --- reacting to results ---------------------------------------------------------------------


def _has_current_outcome(runner_kim_id: str, model: Model) -> bool:
    runner = kim_obj(runner_kim_id)
    return _outcome_key(runner, model) in _current_outcome_keys([runner], [model])


def waiting_on(job: Job) -> list[dict]:
    """What a waiting job waits for: each upstream pair, with its live job if there is one."""
    answer = []
    for upstream in job.blocked_on:
        upstream_job = Job.objects.active().for_pair(upstream, job.subject_kim_id).first()
        answer.append({
            "runner": upstream, "subject": job.subject_kim_id,
            "job": upstream_job.pk if upstream_job else None,
            "state": upstream_job.state if upstream_job else "no live job",
        })
    return answer


def release_waiting(subject_kim_id: str) -> tuple[list[int], list[int]]:
    """Re-examine the waiting jobs of one subject: (ids now queued, ids failed).

    A blocker is cleared by a current outcome of the upstream pair. A blocker with neither a
    current outcome nor a live job will never clear (its job failed or was cancelled): the
    waiting job fails, naming it.
    """
    queued, failed = [], []
    waiting = list(Job.objects.filter(subject_kim_id=subject_kim_id, state=Job.State.WAITING))
    if not waiting:
        return queued, failed
    model = Model.objects.get(kim_id=subject_kim_id)
    cleared: dict[str, bool] = {}
    for job in waiting:
        remaining, dead = [], []
        for upstream in job.blocked_on:
            if upstream not in cleared:
                cleared[upstream] = _has_current_outcome(upstream, model)
            if cleared[upstream]:
                continue
            remaining.append(upstream)
            if not Job.objects.active().for_pair(upstream, subject_kim_id).exists():
                dead.append(upstream)
        if dead:
            last = (Job.objects.for_pair(dead[0], subject_kim_id).order_by("-created_at").first())
            why = f"{last.state}: {last.last_error}" if last else "no job"
            if Job.objects.filter(pk=job.pk, state=Job.State.WAITING).update(
                    state=Job.State.FAILED, blocked_on=remaining,
                    last_error=f"upstream {dead[0]} × {subject_kim_id} ended without a result ({why})"):
                failed.append(job.pk)
        elif not remaining:
            if Job.objects.filter(pk=job.pk, state=Job.State.WAITING).update(
                    state=Job.State.QUEUED, blocked_on=[]):
                queued.append(job.pk)
        elif remaining != job.blocked_on:
            Job.objects.filter(pk=job.pk, state=Job.State.WAITING).update(blocked_on=remaining)
    if failed:
        # A failed job blocks its own dependents in turn.
        more_queued, more_failed = release_waiting(subject_kim_id)
        queued += more_queued
        failed += more_failed
    if queued or failed:
        log.info("%s: released %d waiting jobs, failed %d", subject_kim_id, len(queued), len(failed))
    return queued, failed


def upstream_changed(result: TestResult, *, dispatch: bool = True) -> SubmitReport:
    """A new result for an upstream pair: downstream results on that model are stale; re-run them."""
    report = SubmitReport()
    model = result.model
    pairs = []
    for downstream in downstream_tests(result.test):
        stale_rows = 0
        for rows in (TestResult.objects.filter(test__number=downstream.number),
                     Error.objects.filter(test__number=downstream.number)):
            stale_rows += rows.filter(subject_number=model.number, stale=False,
                                      created_at__lt=result.created_at).update(stale=True)
        if stale_rows and downstream.status == Status.APPROVED:
            pairs.append((downstream, model))
            log.info("%s changed: %d results of %s on %s are stale", result.kim_id, stale_rows,
                     downstream.kim_id, model.kim_id)
    if pairs:
        report = submit_pairs(pairs, reason=f"upstream {result.test.kim_id} changed",
                              dispatch=dispatch)
    return report
