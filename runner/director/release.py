"""Reacting to outcomes: releasing the jobs that wait for upstream pairs, re-running downstream.

``release_waiting`` takes a fixed number of queries per pass whatever the number of waiting
jobs (a few per 500 jobs, items and pairs), and claims each job it changes under a row lock
(``select_for_update(skip_locked=True)`` on PostgreSQL; SQLite's IMMEDIATE transactions
serialise writers), so two releasers never queue or fail the same job twice.
"""

import logging

from django.db import transaction

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
    for upstream in job.blocked_on:
        upstream_job = Job.objects.active().for_pair(upstream, job.subject_kim_id).first()
        answer.append({
            "runner": upstream, "subject": job.subject_kim_id,
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


def _release_pass(subject_kim_id: str | None) -> tuple[list[int], list[int]]:
    waiting = Job.objects.filter(state=Job.State.WAITING)
    if subject_kim_id is not None:
        waiting = waiting.filter(subject_kim_id=subject_kim_id)
    waiting = list(waiting.only("pk", "subject_kim_id", "blocked_on"))
    if not waiting:
        return [], []
    needed = {(upstream, job.subject_kim_id) for job in waiting for upstream in job.blocked_on}
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
        remaining = [u for u in job.blocked_on if not cleared((u, job.subject_kim_id))]
        dead = [u for u in remaining if (u, job.subject_kim_id) not in live]
        if dead:
            to_fail[job.pk] = (dead[0], job.subject_kim_id, remaining)
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
    return queued, failed


def release_waiting(subject_kim_id: str | None = None) -> tuple[list[int], list[int]]:
    """Re-examine the waiting jobs (of one subject, or all): (ids now queued, ids failed).

    A blocker is cleared by a current outcome of the upstream pair. A blocker with neither a
    current outcome nor a live job will never clear (its job failed or was cancelled): the
    waiting job fails, naming it, and a failed job's own dependents are looked at again
    (at most one more pass per level of the dependency graph).
    """
    queued, failed = [], []
    for _ in range(max_dependency_depth() + 2):
        more_queued, more_failed = _release_pass(subject_kim_id)
        queued += more_queued
        failed += more_failed
        if not more_failed:
            break
    if queued or failed:
        log.info("%s: released %d waiting jobs, failed %d", subject_kim_id or "all subjects",
                 len(queued), len(failed))
    return queued, failed


def upstream_changed(result: TestResult, *, dispatch: bool = True) -> SubmitReport:
    """A new result for an upstream pair: downstream outcomes on that model are stale; re-run them.

    Also re-submitted: downstream pairs whose last job failed waiting for this upstream (they
    left no outcome to stale). A dependency Error is an outcome like any other: staled here,
    so the pair runs again now that its upstream has landed.
    """
    report = SubmitReport()
    model = result.model
    pairs = []
    for downstream in downstream_tests(result.test):
        stale_rows = 0
        for rows in (TestResult.objects.filter(test__number=downstream.number),
                     Error.objects.filter(test__number=downstream.number)):
            stale_rows += rows.filter(subject_number=model.number, stale=False,
                                      created_at__lt=result.created_at).update(stale=True)
        failed_before = Job.objects.for_pair(downstream.kim_id, model.kim_id).filter(
            state=Job.State.FAILED).exists()
        if (stale_rows or failed_before) and downstream.status == Status.APPROVED:
            try:
                check_dependency_graph(downstream)
            except PipelineDependencyError as exc:
                # Found late (rows edited by hand): that pair is not run; the result stands.
                log.error("%s: not re-run after %s: %s", downstream.kim_id, result.kim_id, exc)
                report.notes.append(f"{downstream.kim_id}: {exc}")
                continue
            pairs.append((downstream, model))
            log.info("%s changed: %d outcomes of %s on %s are stale", result.kim_id, stale_rows,
                     downstream.kim_id, model.kim_id)
    if pairs:
        notes = report.notes
        report = submit_pairs(pairs, reason=f"upstream {result.test.kim_id} changed",
                              dispatch=dispatch)
        report.notes = notes + report.notes
    return report
