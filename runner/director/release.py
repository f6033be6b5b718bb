"""Reacting to outcomes: releasing the jobs that wait for upstream pairs, re-running downstream.

``release_waiting`` takes a fixed number of queries per pass whatever the number of waiting
jobs (a few per 500 jobs, items and pairs), and claims each job it changes under a row lock
(``select_for_update(skip_locked=True)`` on PostgreSQL; SQLite's IMMEDIATE transactions
serialise writers), so two releasers never queue or fail the same job twice.
"""

import logging

from django.db import transaction
from django.db.models import Q

from repository import kimcodes
from repository.errors import PipelineDependencyError
from repository.models import (
    Error,
    Model,
    Status,
    Test,
    TestResult,
    VerificationCheck,
    current_outcome_keys,
    outcome_key,
)
from runner.director.decide import (
    SubmitReport,
    _chunks,
    _upstreams,
    blocker_pair,
    check_dependency_graph,
    downstream_tests,
    max_dependency_depth,
    submit_pairs,
)
from runner.models import Job

log = logging.getLogger("pipeline.director")


def waiting_on(job: Job) -> list[dict]:
    """What a waiting job waits for: each upstream pair, with its live job if there is one."""
    answer = []
    for entry in job.blocked_on:
        upstream, subject = blocker_pair(entry, job.subject_kim_id)
        upstream_job = Job.objects.active().for_pair(upstream, subject).first()
        answer.append({
            "runner": upstream, "subject": subject,
            "job": upstream_job.pk if upstream_job else None,
            "state": upstream_job.state if upstream_job else "no live job",
        })
    return answer


def _rows_by_kim_id(kim_ids: set[str]) -> dict[str, object]:
    rows: dict[str, object] = {}
    ids = sorted(kim_ids)
    for table in (Test, VerificationCheck, Model):
        for chunk in _chunks(ids):
            rows.update((r.kim_id, r) for r in table.objects.filter(kim_id__in=chunk))
    return rows


def _pairs_query(pairs: set[tuple[str, str]], rows):
    """Jobs of these (runner, subject) pairs: by runner IDs and subject IDs, exact pairs after."""
    runners = sorted({r for r, _ in pairs})
    subjects = sorted({s for _, s in pairs})
    found = []
    for chunk in _chunks(runners):
        found += rows.filter(runner_kim_id__in=chunk, subject_kim_id__in=subjects)
    return [job for job in found if (job.runner_kim_id, job.subject_kim_id) in pairs]


def _waiting_on_subjects(subjects: set[str] | None) -> list[Job]:
    """The waiting jobs of these subjects (None: all), and those of other subjects waiting for a
    pair on one of them (a runner that names that model literally)."""
    waiting = Job.objects.filter(state=Job.State.WAITING)
    if subjects is None:
        return list(waiting.only("pk", "subject_kim_id", "blocked_on"))
    # The JSON text narrows them; the pairs decide.
    named = Q(subject_kim_id__in=sorted(subjects))
    for subject in sorted(subjects):
        named |= Q(blocked_on__icontains=subject)
    return [job for job in waiting.filter(named).only("pk", "subject_kim_id", "blocked_on")
            if job.subject_kim_id in subjects or any(
                blocker_pair(e, job.subject_kim_id)[1] in subjects for e in job.blocked_on)]


def _release_pass(subjects: set[str] | None) -> tuple[list[int], list[int], set[str]]:
    waiting = _waiting_on_subjects(subjects)
    if not waiting:
        return [], [], set()

    def pair(job, entry) -> tuple[str, str]:
        return blocker_pair(entry, job.subject_kim_id)

    needed = {pair(job, entry) for job in waiting for entry in job.blocked_on}
    rows = _rows_by_kim_id({r for r, _ in needed} | {s for _, s in needed})
    current = current_outcome_keys([rows[r] for r, _ in needed if r in rows],
                                   [rows[s] for _, s in needed if s in rows])

    def cleared(pair) -> bool:
        runner, subject = rows.get(pair[0]), rows.get(pair[1])
        return runner is not None and subject is not None and \
            outcome_key(runner, subject) in current

    live = {(j.runner_kim_id, j.subject_kim_id)
            for j in _pairs_query({p for p in needed if not cleared(p)}, Job.objects.active())}
    to_queue, to_fail, shrunk = [], {}, {}
    for job in waiting:
        remaining = [e for e in job.blocked_on if not cleared(pair(job, e))]
        dead = [pair(job, e) for e in remaining if pair(job, e) not in live]
        if dead:
            to_fail[job.pk] = (*dead[0], remaining)
        elif not remaining:
            to_queue.append(job.pk)
        elif remaining != job.blocked_on:
            shrunk[job.pk] = remaining
    last = {}
    if to_fail:
        ended = _pairs_query({(u, s) for u, s, _ in to_fail.values()}, Job.objects.all())
        for job in sorted(ended, key=lambda j: j.created_at):
            last[(job.runner_kim_id, job.subject_kim_id)] = job
    with transaction.atomic():
        # Lock what we change; a job another releaser holds is theirs to change.
        mine = set()
        for chunk in _chunks([*to_queue, *to_fail, *shrunk]):
            mine.update(Job.objects.select_for_update(skip_locked=True)
                        .filter(pk__in=chunk, state=Job.State.WAITING)
                        .values_list("pk", flat=True))
        queued = [pk for pk in to_queue if pk in mine]
        for chunk in _chunks(queued):
            Job.objects.filter(pk__in=chunk).update(state=Job.State.QUEUED, blocked_on=[])
        changed = []
        for pk, (upstream, subject, remaining) in to_fail.items():
            if pk not in mine:
                continue
            before = last.get((upstream, subject))
            why = f"{before.state}: {before.last_error}" if before else "no job"
            changed.append(Job(pk=pk, state=Job.State.FAILED, blocked_on=remaining,
                               last_error=f"upstream {upstream} × {subject} ended without "
                                          f"a result ({why})"))
        changed += [Job(pk=pk, state=Job.State.WAITING, blocked_on=remaining, last_error="")
                    for pk, remaining in shrunk.items() if pk in mine]
        Job.objects.bulk_update(changed, ["state", "blocked_on", "last_error"], batch_size=500)
    failed = [pk for pk in to_fail if pk in mine]
    failed_subjects = {job.subject_kim_id for job in waiting if job.pk in failed}
    return queued, failed, failed_subjects


def release_waiting(subject_kim_id: str | None = None) -> tuple[list[int], list[int]]:
    """Re-examine the waiting jobs (of one subject, or all): (ids now queued, ids failed).

    A blocker is cleared by a current outcome of the upstream pair. A blocker with neither a
    current outcome nor a live job will never clear (its job failed or was cancelled): the
    waiting job fails, naming it, and a failed job's own dependents are looked at again
    (at most one more pass per level of the dependency graph). A job of another subject that
    waits for a pair on this one (its runner names this model literally) is looked at too.
    """
    queued, failed = [], []
    subjects = None if subject_kim_id is None else {subject_kim_id}
    for _ in range(max_dependency_depth() + 2):
        more_queued, more_failed, failed_subjects = _release_pass(subjects)
        queued += more_queued
        failed += more_failed
        if not more_failed:
            break
        if subjects is not None:
            # The failed jobs' dependents wait on pairs of the failed jobs' subjects.
            subjects |= failed_subjects
    if queued or failed:
        log.info("%s: released %d waiting jobs, failed %d", subject_kim_id or "all subjects",
                 len(queued), len(failed))
    return queued, failed


def upstream_changed(result: TestResult, *, dispatch: bool = True) -> SubmitReport:
    """A new result for an upstream pair: the downstream outcomes that read it are stale; re-run.

    Which downstream pairs read (test, model) is what their runners require
    (runner.template.upstream_of): every pair on that model of a test that depends on the
    upstream test, and every pair, whatever its model, of a test that names that model
    literally (2012 ``@DATA[TE][MO_fixed][PR]``, ``get_test_result("TE", "MO_fixed", …)``).
    Also re-submitted: those downstream pairs whose last job failed (they left no outcome to
    stale). A dependency Error is an outcome like any other: staled here, so the pair runs
    again now that its upstream has landed.
    """
    report = SubmitReport()
    model = result.model
    downstream = downstream_tests(result.test)
    reads = _upstreams(downstream)
    pairs = []
    for test in downstream:
        read = [fixed for upstream, fixed in reads[test.kim_id].pairs
                if upstream.number == result.test.number]
        on_subject = None in read
        literal = any(f is not None and (f.leader, f.number) == (model.leader, model.number)
                      for f in read)
        if not on_subject and not literal:
            continue
        subjects = _stale_downstream(test, result, every_subject=literal)
        failed = Job.objects.filter(runner_kim_id=test.kim_id, state=Job.State.FAILED)
        if not literal:
            failed = failed.filter(subject_kim_id=model.kim_id)
        subjects |= {kimcodes.parse_kim_code(s).number
                     for s in failed.values_list("subject_kim_id", flat=True).distinct()}
        if not subjects or test.status != Status.APPROVED:
            continue
        try:
            check_dependency_graph(test)
        except PipelineDependencyError as exc:
            # Found late (rows edited by hand): that pair is not run; the result stands.
            log.error("%s: not re-run after %s: %s", test.kim_id, result.kim_id, exc)
            report.notes.append(f"{test.kim_id}: {exc}")
            continue
        if literal:
            models = list(Model.objects.latest_versions().filter(
                number__in=subjects, status=Status.APPROVED))
        else:
            models = [model]
        pairs += [(test, m) for m in models]
        log.info("%s changed: outcomes of %s on %d models are stale", result.kim_id,
                 test.kim_id, len(models))
    if pairs:
        notes = report.notes
        report = submit_pairs(pairs, reason=f"upstream {result.test.kim_id} changed",
                              dispatch=dispatch)
        report.notes = notes + report.notes
    return report


def _stale_downstream(test: Test, result: TestResult, *, every_subject: bool) -> set[str]:
    """Mark ``test``'s outcomes older than ``result`` stale (on its model, or on every model);
    the subject numbers of those marked."""
    subjects: set[str] = set()
    for table in (TestResult, Error):
        rows = table.objects.filter(test__number=test.number, stale=False,
                                    created_at__lt=result.created_at)
        if not every_subject:
            rows = rows.filter(subject_number=result.model.number)
        hit = list(rows.values_list("pk", "subject_number"))
        for chunk in _chunks([pk for pk, _ in hit]):
            table.objects.filter(pk__in=chunk).update(stale=True)
        subjects |= {number for _, number in hit}
    return subjects
