"""One job, exactly once: claims, leases, completion, releases, stale results, retries."""

import shutil
import uuid
from datetime import timedelta

import pytest
from django.core.checks import Error as CheckError
from django.db import connection
from django.utils import timezone
from django_q.conf import Conf
from django_q.models import OrmQ
from django_q.signing import SignedPackage
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from repository.models import Error, Model, Test, TestResult
from runner import director, execute, jobs, reconcile, tasks
from runner.checks import check_database_features, check_queue_timeouts
from runner.dispatch import dispatch
from runner.models import Job
from tests.fixtures.pipeline import items

pytestmark = pytest.mark.django_db



@pytest.fixture
def run_log(tmp_path):
    return tmp_path / "executions.log"


def drain(django_capture_on_commit_callbacks, action):
    """Run ``action``, then every task it sends to the broker (the test cluster runs them inline)."""
    with django_capture_on_commit_callbacks(execute=True):
        return action()


def results_per_pair() -> dict:
    counts: dict = {}
    for row in TestResult.objects.values_list("test__kim_id", "model__kim_id"):
        counts[row] = counts.get(row, 0) + 1
    return counts


def test_run_job_claims_runs_and_records_the_outcome(repository_dir, run_log):
    model = items.make_model(items.AR_MODELS[0])
    test = items.make_test(repository_dir, "NoOp_Ar", 1, log=run_log)
    job = director.on_item_changed(test, dispatch=False).jobs[0]

    assert jobs.run_job(job.pk) == "done"

    job.refresh_from_db()
    result = TestResult.objects.get()
    assert (job.state, job.outcome_kim_id, job.attempts) == ("done", result.kim_id, 1)
    assert (result.test, result.model) == (test, model)
    assert job.lease_expires_at is None and job.finished_at is not None
    assert items.executions(run_log) == [(test.kim_id, model.kim_id)]


def test_a_second_delivery_of_the_same_job_is_a_no_op(repository_dir, run_log):
    items.make_model(items.AR_MODELS[0])
    test = items.make_test(repository_dir, "NoOp_Ar", 1, log=run_log)
    job = director.on_item_changed(test, dispatch=False).jobs[0]

    assert [jobs.run_job(job.pk), jobs.run_job(job.pk)] == ["done", "not-claimed"]
    assert TestResult.objects.count() == 1
    assert len(items.executions(run_log, "start")) == 1


def test_deliveries_run_the_best_ranked_queued_job_first(repository_dir, run_log):
    items.ar_models(3)
    normal = items.make_test(repository_dir, "Normal_Ar", 1, log=run_log)
    urgent = items.make_test(repository_dir, "Urgent_Ar", 2, log=run_log)
    normal_jobs = director.on_item_changed(normal, dispatch=False).jobs
    urgent_jobs = director.on_item_changed(urgent, priority="immediate", dispatch=False).jobs

    # The broker hands deliveries out first in, first out: the normal jobs' come first.
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(Conf, "SYNC", False)  # held in the ORM broker's queue, not run inline
        dispatch([job.pk for job in normal_jobs + urgent_jobs])
    deliveries = [SignedPackage.loads(row.payload) for row in OrmQ.objects.order_by("pk")]
    outcomes = [tasks.run_job(*delivery["args"]) for delivery in deliveries]

    started = [runner for runner, _ in items.executions(run_log, "start")]
    assert started == [urgent.kim_id] * 3 + [normal.kim_id] * 3
    assert outcomes == ["done"] * 6
    assert set(Job.objects.values_list("state", flat=True)) == {"done"}
    assert set(results_per_pair().values()) == {1}


def test_claim_is_a_conditional_update(repository_dir):
    items.make_model(items.AR_MODELS[0])
    test = items.make_test(repository_dir, "NoOp_Ar", 1)
    job = director.on_item_changed(test, dispatch=False).jobs[0]

    first = jobs.claim(job.pk, "host:1:a")
    assert first.state == "running" and first.lease_owner == "host:1:a"
    assert jobs.claim(job.pk, "host:2:b") is None
    assert first.lease_expires_at > timezone.now() + timedelta(seconds=jobs.lease_seconds() - 5)


def test_a_dependent_test_never_runs_before_its_upstream(repository_dir, run_log,
                                                         django_capture_on_commit_callbacks):
    models = items.ar_models(3)
    lattice = items.make_test(repository_dir, "Lattice_Ar", 1, log=run_log)
    elastic = items.make_test(repository_dir, "Elastic_Ar", 2, depends_on=[lattice], log=run_log)
    bulk = items.make_test(repository_dir, "Bulk_Ar", 3, depends_on=[elastic, lattice], log=run_log)

    drain(django_capture_on_commit_callbacks, lambda: director.on_item_changed(bulk))

    assert set(Job.objects.values_list("state", flat=True)) == {"done"}
    assert results_per_pair() == {(t.kim_id, m.kim_id): 1 for t in (lattice, elastic, bulk)
                                  for m in models}
    lines = run_log.read_text().splitlines()
    for model in models:
        order = {(w, t.kim_id): next(i for i, entry in enumerate(lines)
                                      if entry.startswith(f"{w} {t.kim_id} {model.kim_id} "))
                 for w in ("start", "finish") for t in (lattice, elastic, bulk)}
        assert order[("finish", lattice.kim_id)] < order[("start", elastic.kim_id)]
        assert order[("finish", elastic.kim_id)] < order[("start", bulk.kim_id)]


def test_changing_the_upstream_test_reruns_its_downstream(repository_dir, run_log,
                                                           django_capture_on_commit_callbacks):
    model = items.make_model(items.AR_MODELS[0])
    lattice = items.make_test(repository_dir, "Lattice_Ar", 1, log=run_log)
    elastic = items.make_test(repository_dir, "Elastic_Ar", 2, depends_on=[lattice], log=run_log)
    drain(django_capture_on_commit_callbacks, lambda: director.on_item_changed(elastic))
    old_downstream = TestResult.objects.get(test=elastic)

    # A new version of the upstream test is imported: it runs, and its new result makes the
    # downstream result stale, which is run again.
    lattice_v1 = items.make_test(repository_dir, "Lattice_Ar", 1, 1, log=run_log)
    drain(django_capture_on_commit_callbacks, lambda: director.on_item_changed(lattice_v1))

    old_downstream.refresh_from_db()
    assert old_downstream.stale
    new_downstream = TestResult.objects.filter(test=elastic, stale=False).get()
    assert new_downstream.created_at > TestResult.objects.get(test=lattice_v1).created_at
    assert Job.objects.filter(runner_kim_id=elastic.kim_id, state="done").count() == 2
    assert (run_log.read_text().splitlines()[-1].split()[:3]
            == ["finish", elastic.kim_id, model.kim_id])


def test_a_result_that_landed_before_the_worker_died_is_not_duplicated(repository_dir, run_log):
    model = items.make_model(items.AR_MODELS[0])
    test = items.make_test(repository_dir, "NoOp_Ar", 1, log=run_log)
    job = director.on_item_changed(test, dispatch=False).jobs[0]
    # The dead worker: claimed, ran the pair, wrote the result, died before completing.
    jobs.claim(job.pk, "deadhost:4242:dead")
    landed = execute.run_pair(test, model)

    report = reconcile.reconcile(now=timezone.now() + timedelta(seconds=jobs.lease_seconds() + 1),
                            dispatch_released=False)

    job.refresh_from_db()
    assert report.adopted == [job.pk]
    assert (job.state, job.outcome_kim_id) == ("done", landed.kim_id)
    assert TestResult.objects.count() == 1
    assert len(items.executions(run_log)) == 1


def test_an_expired_lease_is_queued_again_and_completes_once(repository_dir, run_log):
    items.make_model(items.AR_MODELS[0])
    test = items.make_test(repository_dir, "NoOp_Ar", 1, log=run_log)
    job = director.on_item_changed(test, dispatch=False).jobs[0]
    jobs.claim(job.pk, "deadhost:4242:dead")

    assert reconcile.reconcile(dispatch_released=False).requeued == [], "lease not yet expired"
    later = timezone.now() + timedelta(seconds=jobs.lease_seconds() + 1)
    assert reconcile.reconcile(now=later, dispatch_released=False).requeued == [job.pk]
    job.refresh_from_db()
    assert job.state == "queued" and "deadhost:4242:dead expired" in job.last_error
    assert jobs.run_job(job.pk) == "done"

    job.refresh_from_db()
    assert (job.state, job.attempts) == ("done", 2)
    assert TestResult.objects.count() == 1


def raise_infrastructure_failure(runner_item, model, *, rebuild=False, heartbeat=None):
    # A fake to reach the edge case: the machinery itself fails (not the test).
    raise ConnectionError("repository share went away")


def test_machinery_failures_are_retried_a_bounded_number_of_times(repository_dir, monkeypatch):
    items.make_model(items.AR_MODELS[0])
    lattice = items.make_test(repository_dir, "Lattice_Ar", 1)
    elastic = items.make_test(repository_dir, "Elastic_Ar", 2, depends_on=[lattice])
    director.on_item_changed(elastic, dispatch=False)
    monkeypatch.setattr(execute, "run_pair", raise_infrastructure_failure)
    job = Job.objects.get(runner_kim_id=lattice.kim_id)

    states = [jobs.run_job(job.pk, dispatch_released=False) for _ in range(4)]

    job.refresh_from_db()
    assert states == ["queued", "queued", "failed", "not-claimed"]
    assert (job.state, job.attempts) == ("failed", 3)
    assert "ConnectionError: repository share went away" in job.last_error
    waiting = Job.objects.get(runner_kim_id=elastic.kim_id)
    assert waiting.state == "failed" and lattice.kim_id in waiting.last_error


def test_a_failed_run_is_an_error_outcome_and_fails_what_waits_on_it(repository_dir):
    items.make_model(items.AR_MODELS[0])
    lattice = items.make_test(repository_dir, "Lattice_Ar", 1, fail=True)
    elastic = items.make_test(repository_dir, "Elastic_Ar", 2, depends_on=[lattice])
    director.on_item_changed(elastic, dispatch=False)

    assert jobs.run_job(Job.objects.get(runner_kim_id=lattice.kim_id).pk) == "done"

    error = Error.objects.get()
    assert Job.objects.get(runner_kim_id=lattice.kim_id).outcome_kim_id == error.kim_id
    # An error is the upstream's current outcome: the downstream runs and meets it.
    assert Job.objects.get(runner_kim_id=elastic.kim_id).state == "queued"


def test_cancel_stops_jobs_that_have_not_started(repository_dir):
    items.ar_models(2)
    test = items.make_test(repository_dir, "NoOp_Ar", 1)
    first, second = director.on_item_changed(test, dispatch=False).jobs
    jobs.claim(first.pk, "host:1:a")

    assert jobs.cancel(Job.objects.all()) == 1
    assert dict(Job.objects.values_list("pk", "state")) == {first.pk: "running",
                                                            second.pk: "cancelled"}
    assert jobs.run_job(second.pk) == "not-claimed"


def test_reconcile_releases_a_missed_waiting_job(repository_dir):
    model = items.make_model(items.AR_MODELS[0])
    lattice = items.make_test(repository_dir, "Lattice_Ar", 1)
    elastic = items.make_test(repository_dir, "Elastic_Ar", 2, depends_on=[lattice])
    director.on_item_changed(elastic, dispatch=False)
    # The upstream result arrives by another path (an import), so no completion releases it.
    Job.objects.filter(runner_kim_id=lattice.kim_id).update(state="cancelled")
    execute.run_pair(lattice, model)

    report = reconcile.reconcile(dispatch_released=False)

    assert Job.objects.get(runner_kim_id=elastic.kim_id).state == "queued"
    assert report.released == [Job.objects.get(runner_kim_id=elastic.kim_id).pk]


def test_reconcile_resubmits_stale_results(repository_dir):
    items.make_model(items.AR_MODELS[0])
    test = items.make_test(repository_dir, "NoOp_Ar", 1)
    jobs.run_job(director.on_item_changed(test, dispatch=False).jobs[0].pk)
    TestResult.objects.update(stale=True)

    report = reconcile.reconcile(dispatch_released=False)

    assert report.stale_resubmitted == 1
    assert Job.objects.filter(state="queued", reason="stale result").count() == 1


def test_system_check_refuses_retry_not_above_timeout(settings):
    settings.Q_CLUSTER = {"timeout": 360, "retry": 360, "orm": "default"}
    problems = check_queue_timeouts()
    assert [p.id for p in problems] == ["runner.E001"]
    assert isinstance(problems[0], CheckError) and "run twice" in problems[0].msg

    settings.Q_CLUSTER = {"timeout": 360, "retry": 480, "orm": "default"}
    assert check_queue_timeouts() == []

    settings.Q_CLUSTER = {"timeout": 100, "retry": 480, "orm": "default"}
    assert [p.id for p in check_queue_timeouts()] == ["runner.W002"]


def test_system_check_refuses_an_sqlite_without_update_returning(monkeypatch):
    assert check_database_features() == [], "this machine's database claims jobs"
    if connection.vendor != "sqlite":
        return  # PostgreSQL has RETURNING; the SQLite pass checks the refusal
    monkeypatch.setattr(connection.Database, "sqlite_version_info", (3, 34, 1))
    monkeypatch.setattr(connection.Database, "sqlite_version", "3.34.1")
    (problem,) = check_database_features()
    assert problem.id == "runner.E005" and "3.34.1" in problem.msg


def test_the_statements_of_every_job_are_prepared_on_postgresql(repository_dir, run_log):
    """PIPELINE_PG_PREPARE (on): the claim and the result's INSERT, sent by every job, are
    prepared on the worker's connection, and the six jobs still end as six results."""
    if connection.vendor != "postgresql":
        pytest.skip("prepared statements are PostgreSQL's (the suite runs again on PostgreSQL)")
    for code in items.AR_MODELS[:6]:
        items.make_model(code)
    test = items.make_test(repository_dir, "NoOp_Ar", 1, log=run_log)
    for job in director.on_item_changed(test, dispatch=False).jobs:
        assert jobs.run_job(job.pk) == "done"
    with connection.cursor() as cursor:
        cursor.execute("SELECT statement FROM pg_prepared_statements")
        prepared = [statement for (statement,) in cursor.fetchall()]
    assert any(statement.startswith('UPDATE "runner_job"') and "RETURNING" in statement
               for statement in prepared), prepared
    assert any(statement.startswith('INSERT INTO "repository_testresult"') for statement in prepared)
    assert TestResult.objects.count() == 6 and len(items.executions(run_log)) == 6


def test_system_check_is_registered():
    from django.core import checks

    assert check_queue_timeouts in checks.registry.registry.get_checks()


@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(edges=st.lists(st.tuples(st.integers(0, 4), st.integers(0, 4)), max_size=8),
       top=st.integers(0, 4))
def test_any_dependency_graph_runs_each_pair_once_upstream_first(repository_dir, edges, top):
    """Random acyclic graphs of five tests (i may depend on j < i), one model, run to the end."""
    Job.objects.all().delete()
    TestResult.objects.all().delete()
    Error.objects.all().delete()
    Test.objects.all().delete()
    Model.objects.all().delete()
    shutil.rmtree(repository_dir / "te", ignore_errors=True)  # examples share the fixture
    log = repository_dir / f"runs-{uuid.uuid4().hex}.log"
    model = items.make_model(items.AR_MODELS[0])
    tests = []
    for i in range(5):
        upstream = sorted({j for a, j in edges if a == i and j < i})
        tests.append(items.make_test(repository_dir, f"Graph{i}_Ar", 700 + i, log=log,
                                     depends_on=[tests[j] for j in upstream]))

    report = director.on_item_changed(tests[top], dispatch=False)
    for job in report.jobs:
        for blocker in job.blocked_on:
            upstream_job = Job.objects.active().for_pair(blocker, job.subject_kim_id).get()
            assert upstream_job.priority < job.priority
    jobs.run_pending(progress=False)

    needed = set()
    frontier = [tests[top]]
    while frontier:
        test = frontier.pop()
        needed.add(test.kim_id)
        frontier += list(test.depends_on.all())
    assert set(results_per_pair()) == {(kim_id, model.kim_id) for kim_id in needed}
    assert set(results_per_pair().values()) == {1}
    lines = [line.split()[:2] for line in log.read_text().splitlines()]
    for test in tests:
        if test.kim_id not in needed:
            continue
        for upstream in test.depends_on.all():
            assert lines.index(["finish", upstream.kim_id]) < lines.index(["start", test.kim_id])


def test_a_delivery_that_succeeded_leaves_no_success_row_and_one_that_failed_a_failure(
        repository_dir, run_log):
    """django-q2's monitor (its own save_task) keeps no Success row per job: the Job row says."""
    from django_q.models import Failure, Success
    from django_q.monitor import save_task

    items.make_model(items.AR_MODELS[0])
    test = items.make_test(repository_dir, "NoOp_Ar", 1, log=run_log)
    job = director.on_item_changed(test, dispatch=False).jobs[0]
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(Conf, "SYNC", False)
        dispatch([job.pk])
    delivery = SignedPackage.loads(OrmQ.objects.get().payload)
    now = timezone.now()
    for success, result in ((True, tasks.run_job(*delivery["args"])), (False, "a traceback")):
        save_task({**delivery, "success": success, "result": result, "started": now,
                   "stopped": now}, broker=None)
    assert Success.objects.count() == 0
    assert Failure.objects.count() == 1
    assert Job.objects.get(pk=job.pk).state == Job.State.DONE
