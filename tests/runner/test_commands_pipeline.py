"""The thin edges: submit, runpending, pipelinestatus, schedulepipeline, admin pages and actions."""

from collections import Counter
from datetime import timedelta
from io import StringIO

import pytest
from django.contrib import admin
from django.contrib.messages.storage.cookie import CookieStorage
from django.core.management import CommandError, call_command
from django.urls import reverse
from django.utils import timezone
from django_q.models import Schedule

from repository.models import Model, Status, TestResult
from runner import admin_actions, director, jobs, tasks
from runner.models import Build, Job
from tests.fixtures.pipeline import items
from tests.fixtures.pipeline.site import PipelineSite, copy_sqlite, migrated_sqlite_template


def command(*args) -> str:
    out = StringIO()
    call_command(*args, stdout=out, stderr=StringIO())
    return out.getvalue()


@pytest.mark.django_db
def test_submit_queues_the_fan_out_at_the_priority_asked(repository_dir):
    items.ar_models(3)
    test = items.make_test(repository_dir, "NoOp_Ar", 1)

    out = command("submit", test.kim_id, "--priority", "very high")

    assert "3 new jobs (3 queued, 0 waiting)" in out
    assert set(Job.objects.values_list("priority", flat=True)) == {Job.Priority.VERY_HIGH}
    assert "3 already queued or running" in command("submit", test.kim_id.rsplit("_", 1)[0])


@pytest.mark.django_db
def test_submit_force_reruns_pairs_with_current_results(repository_dir):
    items.ar_models(2)
    test = items.make_test(repository_dir, "NoOp_Ar", 1)
    command("submit", test.kim_id)
    command("runpending", "--no-progress")

    assert "2 pairs already have a current result" in command("submit", test.kim_id)
    assert "2 new jobs" in command("submit", test.kim_id, "--force")


@pytest.mark.django_db
def test_submit_refuses_unknown_items_and_priorities():
    with pytest.raises(CommandError, match="TE_000000000404"):
        command("submit", "TE_000000000404")
    with pytest.raises(CommandError, match="unknown priority"):
        items.make_model(items.AR_MODELS[0])
        command("submit", items.AR_MODELS[0], "--priority", "urgent")
    # A result is not an item to fan out (it was an AttributeError): said, nothing queued.
    for result in ("TR_123456789012_000", "Lattice_Ar__VR_123456789012_001", "ER_123456789012_000"):
        with pytest.raises(CommandError, match="is a result, not an item: submit takes a test"):
            command("submit", result)
    assert not Job.objects.exists()


@pytest.mark.django_db
def test_runpending_runs_everything_upstream_first_and_summarises(repository_dir, tmp_path):
    log = tmp_path / "runs.log"
    models = items.ar_models(2)
    lattice = items.make_test(repository_dir, "Lattice_Ar", 1, log=log)
    elastic = items.make_test(repository_dir, "Elastic_Ar", 2, depends_on=[lattice], log=log)
    broken = items.make_test(repository_dir, "Broken_Ar", 3, fail=True)
    for test in (elastic, broken):
        director.on_item_changed(test, dispatch=False)

    out, progress = StringIO(), StringIO()
    call_command("runpending", stdout=out, stderr=progress)

    assert out.getvalue().strip() == "ran 6 jobs: 2 errors, 4 test results"
    assert "jobs: 100%" in progress.getvalue() and "6/6" in progress.getvalue()
    assert set(Job.objects.values_list("state", flat=True)) == {"done"}
    lines = [line.split()[:3] for line in log.read_text().splitlines()]
    for model in models:
        assert (lines.index(["finish", lattice.kim_id, model.kim_id])
                < lines.index(["start", elastic.kim_id, model.kim_id]))
    assert TestResult.objects.count() == 4


@pytest.mark.slow
def test_runpending_with_two_worker_processes_runs_each_pair_once(tmp_path):
    site = PipelineSite(tmp_path / "site")
    copy_sqlite(migrated_sqlite_template(tmp_path / "template"), site)
    site.scenario("setup", "--tests", "3", "--models", "4", "--sleep", "0.2", "--log", str(site.log))
    site.scenario("submit")

    out = site.manage("runpending", "--workers", "2", "--no-progress")

    assert out.strip() == "ran 12 jobs: 12 test results"
    report = site.scenario("report")
    assert report["states"]["done"] == 12 and set(report["results_per_pair"].values()) == {1}
    assert set(Counter(items.executions(site.log)).values()) == {1}
    assert len({j["lease_owner"].split(":")[1] for j in report["jobs"]}) == 2, "two processes"


@pytest.mark.django_db
def test_pipelinestatus_shows_counts_running_ages_and_blockers(repository_dir):
    items.ar_models(1)
    lattice = items.make_test(repository_dir, "Lattice_Ar", 1)
    elastic = items.make_test(repository_dir, "Elastic_Ar", 2, depends_on=[lattice])
    director.on_item_changed(elastic, dispatch=False)
    upstream = Job.objects.get(runner_kim_id=lattice.kim_id)
    jobs.claim(upstream.pk, "node7:99:abc", now=timezone.now() - timedelta(minutes=5))

    out = command("pipelinestatus")

    assert "jobs: waiting 1, queued 0, running 1, done 0, failed 0, cancelled 0" in out
    assert f"{lattice.kim_id} × {items.AR_MODELS[0]} age 0h05m" in out
    assert "on node7:99:abc" in out
    assert f"{elastic.kim_id} × {items.AR_MODELS[0]} waits on {lattice.kim_id} (running)" in out


@pytest.mark.django_db
def test_schedulepipeline_creates_the_schedules_once():
    first = command("schedulepipeline")
    second = command("schedulepipeline", "--reconcile-minutes", "5")

    assert first.count("created schedule") == 2 and second.count("kept schedule") == 2
    assert dict(Schedule.objects.values_list("func", "minutes")) == {
        "runner.tasks.scan_repository": 10, "runner.tasks.reconcile": 5}


def action_request(rf, admin_user):
    request = rf.post("/admin/")
    request.user = admin_user
    request._messages = CookieStorage(request)
    return request


def messages_of(request) -> list[str]:
    return [str(m) for m in request._messages]


@pytest.mark.django_db
def test_item_actions_queue_and_report(repository_dir, rf, admin_user):
    items.ar_models(2)
    test = items.make_test(repository_dir, "NoOp_Ar", 1)
    test_admin = admin.ModelAdmin(type(test), admin.site)
    request = action_request(rf, admin_user)

    admin_actions.run_all_matching(test_admin, request, type(test).objects.all())
    admin_actions.rerun(test_admin, request, type(test).objects.all())
    admin_actions.cancel(test_admin, request, type(test).objects.all())

    assert messages_of(request) == [
        "2 jobs for 1 items: 2 queued, 0 waiting for upstream results",
        "0 jobs for 1 items: 0 queued, 0 waiting for upstream results",
        "cancelled 2 jobs (running ones finish)",
    ]
    assert len(admin_actions.ITEM_ACTIONS) == 4


@pytest.mark.django_db
def test_approve_action_waits_for_verification_checks(repository_dir, rf, admin_user):
    check = items.make_check(repository_dir, "NoOpCheck", 2)
    items.make_test(repository_dir, "NoOp_Ar", 1)
    pending = items.make_model(items.AR_MODELS[0], status=Status.PENDING)
    model_admin = admin.ModelAdmin(Model, admin.site)
    request = action_request(rf, admin_user)

    admin_actions.approve(model_admin, request, Model.objects.all())
    jobs.run_job(Job.objects.get(runner_kim_id=check.kim_id).pk, dispatch_released=False)
    admin_actions.approve(model_admin, request, Model.objects.all())

    assert messages_of(request) == [
        f"still pending until their verification checks finish: {pending.kim_id}",
        "1 jobs queued",
        f"approved {pending.kim_id}",
        "1 jobs queued",
    ]
    pending.refresh_from_db()
    assert pending.status == Status.APPROVED


@pytest.mark.django_db
def test_job_and_build_admin_pages(repository_dir, admin_client):
    items.ar_models(1)
    lattice = items.make_test(repository_dir, "Lattice_Ar", 1)
    elastic = items.make_test(repository_dir, "Elastic_Ar", 2, depends_on=[lattice])
    director.on_item_changed(elastic, dispatch=False)
    Build.objects.create(kim_id=lattice.kim_id, status=Build.Status.SUCCEEDED)
    waiting = Job.objects.get(state="waiting")

    changelist = reverse("admin:runner_job_changelist")
    assert admin_client.get(changelist).status_code == 200
    page = admin_client.get(changelist, {"state": "waiting", "priority": "3"})
    assert elastic.kim_id in page.content.decode()
    detail = admin_client.get(reverse("admin:runner_job_change", args=[waiting.pk]))
    assert f"<div>{lattice.kim_id}</div>" in detail.content.decode()
    assert admin_client.get(reverse("admin:runner_build_changelist")).status_code == 200

    response = admin_client.post(changelist, {"action": "cancel_jobs",
                                              "_selected_action": [waiting.pk]}, follow=True)
    waiting.refresh_from_db()
    assert waiting.state == "cancelled", response.content.decode()[-3000:]
    assert [str(m) for m in response.context["messages"]] == ["cancelled 1 jobs (running ones finish)"]


@pytest.mark.django_db
def test_scheduled_scan_imports_new_items_and_submits_their_jobs(repository_dir):
    items.ar_models(2)
    kim_id = items.write_test_folder(repository_dir, "Scanned_Ar", 41)

    summary = tasks.scan_repository()

    assert "1 created" in summary and "2 jobs submitted" in summary, summary
    assert set(Job.objects.values_list("runner_kim_id", flat=True)) == {kim_id}
    assert "0 jobs submitted" in tasks.scan_repository(), "an unchanged folder submits nothing"

    jobs.run_pending(progress=False)
    (repository_dir / "te" / kim_id / "README").write_text("a curator's note\n")
    summary = tasks.scan_repository()
    assert "1 updated" in summary and "2 jobs submitted" in summary, summary
