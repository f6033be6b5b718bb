"""Nothing a curator clicks breaks the queue; failures have their own place (pipelinestatus,
errors, submit --errors, the Error admin's re-run); rows and folders go together."""

import json
import subprocess
import sys
from datetime import timedelta

import pytest
from django.contrib.messages import get_messages
from django.core.management.base import CommandError
from django.urls import reverse

from repository.models import Error
from runner import jobs, owners
from runner.models import Build, Job
from tests import factories
from tests.curator.conftest import run

pytestmark = pytest.mark.django_db


@pytest.fixture
def pair(repository_dir):
    model = factories.make_model(factories.AR_MODELS[0])
    test = factories.make_test("NoOp_Ar", 1, root=repository_dir)
    return test, model


def dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def messages_of(response) -> list[tuple[str, str]]:
    return [(m.level_tag, m.message) for m in get_messages(response.wsgi_request)]


def test_jobs_and_builds_cannot_be_added_in_the_admin(admin_client):
    assert admin_client.get(reverse("admin:runner_job_add")).status_code == 403
    assert admin_client.get(reverse("admin:runner_build_add")).status_code == 403
    build = Build.objects.create(kim_id="X__TE_000000000001_000", status=Build.Status.FAILED)
    page = admin_client.get(reverse("admin:runner_build_change", args=[build.pk])).content.decode()
    assert 'name="status"' not in page and 'name="log"' not in page, "machine fields read-only"


@pytest.mark.parametrize("runner_kim_id, subject_kim_id, reason", [
    ("", "", "malformed KIM ID ''"),
    ("TE_12", "MO_000000000001_000", "malformed KIM ID 'TE_12'"),
    ("Nope__TE_000000000404_000", factories.AR_MODELS[0], "no test Nope__TE_000000000404_000"),
    ("Nope__TD_000000000404_000", factories.AR_MODELS[0], "is not a test or a verification check"),
])
def test_a_job_that_cannot_run_fails_with_the_reason(runner_kim_id, subject_kim_id, reason):
    job = Job.objects.create(runner_kim_id=runner_kim_id, subject_kim_id=subject_kim_id)
    out, _ = run("runpending", "--no-progress")  # the worker goes on: no exception
    job.refresh_from_db()
    assert job.state == Job.State.FAILED and job.lease_owner == ""
    assert job.last_error.startswith("cannot run: ") and reason in job.last_error
    assert "ran 1 jobs: 1 failed" in out


def test_cancel_that_did_nothing_warns_why(admin_client, pair):
    test, model = pair
    job = Job.objects.create(runner_kim_id=test.kim_id, subject_kim_id=model.kim_id)
    jobs.claim(job.pk, "elsewhere:1:abc")
    response = admin_client.post(reverse("admin:runner_job_changelist"),
                                 {"action": "cancel_jobs", "_selected_action": [job.pk]}, follow=True)
    assert messages_of(response) == [
        ("warning", "nothing cancelled: only jobs that have not started can be cancelled, and "
                    "these are 1 running")]
    queued = Job.objects.create(runner_kim_id=test.kim_id, subject_kim_id=factories.AR_MODELS[0][:-1] + "9")
    response = admin_client.post(reverse("admin:runner_job_changelist"),
                                 {"action": "cancel_jobs", "_selected_action": [queued.pk]}, follow=True)
    assert messages_of(response) == [("success", "cancelled 1 jobs (running ones finish)")]


def test_error_admin_rerun_queues_exactly_the_errors_pairs(admin_client, pair):
    test, model = pair
    error = factories.make_error(model, 901, test=test)
    response = admin_client.post(reverse("admin:repository_error_changelist"),
                                 {"action": "rerun_errors", "_selected_action": [error.pk]}, follow=True)
    job = Job.objects.get()
    assert (job.runner_kim_id, job.subject_kim_id, job.force) == (test.kim_id, model.kim_id, True)
    assert messages_of(response)[0][0] == "success"


def test_deleting_an_outcome_in_the_admin_removes_its_folder(admin_client, pair,
                                                              django_capture_on_commit_callbacks):
    test, model = pair
    error = factories.make_error(model, 902, test=test)
    error.path.mkdir(parents=True)
    (error.path / "pipeline.exception").write_text("nonzero-exit: exit 1\n")
    with django_capture_on_commit_callbacks(execute=True):
        admin_client.post(reverse("admin:repository_error_delete", args=[error.pk]), {"post": "yes"})
    assert not Error.objects.exists() and not error.path.exists()


def test_pipelinestatus_gives_errors_their_own_place(pair):
    test, model = pair
    other = factories.make_model(factories.AR_MODELS[1])
    third = factories.make_model(factories.AR_MODELS[2])
    factories.make_result(test, model, 903)
    factories.make_error(other, 904, test=test, category=Error.Category.DEPENDENCY)
    done = Job.objects.create(runner_kim_id=test.kim_id, subject_kim_id=other.kim_id,
                              state=Job.State.DONE, outcome_kim_id="ER_000000000904_000")
    running = Job.objects.create(runner_kim_id=test.kim_id, subject_kim_id=third.kim_id)
    jobs.claim(running.pk, f"{owners.node_name()}:{dead_pid()}:deadbeef")
    queued = Job.objects.create(runner_kim_id="Other_Ar__TE_000000000002_000",
                                subject_kim_id=model.kim_id, priority=Job.Priority.HIGH)

    out, _ = run("pipelinestatus")
    assert "outcomes: 1 test results, 0 verification results, 1 errors (dependency 1)" in out
    assert "done: 0 left a result, 1 an error" in out
    assert "queued (1): high 1" in out and f"next #{queued.pk} " in out
    assert f"#{running.pk} {test.kim_id} × {third.kim_id}" in out and "OWNER DEAD" in out
    data = json.loads(run("pipelinestatus", "--json")[0])
    assert data["outcomes"]["errors"] == {"dependency": 1} and data["jobs"]["done_with_error"] == 1
    assert data["jobs"]["running"][0]["owner_dead"] is True and done.pk


def test_errors_lists_filters_and_submit_errors_queues_exactly_those(pair):
    test, model = pair
    other = factories.make_model(factories.AR_MODELS[1])
    timeout = factories.make_error(model, 905, test=test, category=Error.Category.TIMEOUT,
                                   message="killed after 300 s\nmore")
    factories.make_error(other, 906, test=test, category=Error.Category.NONZERO_EXIT)
    out, _ = run("errors", "--category", "timeout")
    assert out.splitlines() == [f"{timeout.kim_id} timeout: {test.kim_id} × {model.kim_id}: "
                                "killed after 300 s", "1 errors"]
    rows = json.loads(run("errors", "--model", factories.AR_MODELS[1], "--json")[0])
    assert [r["category"] for r in rows] == ["nonzero-exit"]
    assert {"kim_id", "runner", "model", "category", "message", "created_at"} <= set(rows[0])
    third = factories.make_model(factories.AR_MODELS[2])
    old = factories.make_error(third, 910, test=test, minutes=-3 * 24 * 60)
    recent = run("errors", "--since", "1d")[0]
    assert old.kim_id not in recent and timeout.kim_id in recent and recent.endswith("2 errors\n")
    day_before = (old.created_at - timedelta(days=1)).date().isoformat()
    assert old.kim_id in run("errors", "--since", day_before)[0]
    with pytest.raises(CommandError, match="expected a duration"):
        run("errors", "--since", "yesterday")

    out, _ = run("submit", "--errors", "--category", "timeout")
    assert out.startswith("1 pairs with a current error (timeout): 1 new jobs")
    assert list(Job.objects.values_list("runner_kim_id", "subject_kim_id", "force")) == [
        (test.kim_id, model.kim_id, True)]


def test_submit_says_errored_pairs_apart_and_raises_a_queued_jobs_priority(pair):
    test, model = pair
    factories.make_error(model, 907, test=test)
    for kim_id in factories.AR_MODELS[1:3]:  # two more approved models, no outcome
        factories.make_model(kim_id)
    out, _ = run("submit", test.kim_id)
    assert "1 pairs already have a current outcome, 1 of them an error" in out
    assert set(Job.objects.values_list("priority", flat=True)) == {Job.Priority.NORMAL}
    out, _ = run("submit", test.kim_id, "--priority", "very-high")
    assert "2 already queued or running (2 of them raised to the priority asked)" in out
    assert set(Job.objects.values_list("priority", flat=True)) == {Job.Priority.VERY_HIGH}


def test_counts_and_choices_are_validated_by_argparse():
    with pytest.raises(CommandError, match="--workers: must be at least 1, not 0"):
        run("runpending", "--workers", "0")
    with pytest.raises(CommandError, match="--limit: must be at least 1"):
        run("pipelinestatus", "--limit", "0")
    with pytest.raises(CommandError, match="unknown priority 'urgent'"):
        run("submit", "--all", "--priority", "urgent")


MY_COMMANDS = ("runpair", "pipelinestatus", "submit", "runpending", "showresult", "installitems",
               "schedulepipeline",
               "importrepo", "matches", "errors", "items", "results")


@pytest.mark.parametrize("name", MY_COMMANDS)
def test_every_option_says_its_default(name):
    from django.core.management import get_commands, load_command_class
    from django.core.management.base import BaseCommand

    command = load_command_class(get_commands()[name], name)
    builtin = {a.dest for a in BaseCommand().create_parser("manage.py", "x")._actions}
    parser = command.create_parser("manage.py", name)
    missing = [a.option_strings[0] for a in parser._actions
               if a.option_strings and a.dest not in builtin and "default" not in (a.help or "").lower()
               and a.dest not in ("json",)]
    assert not missing, f"{name}: options whose help does not say their default: {missing}"


def test_data_commands_speak_json(pair):
    test, model = pair
    factories.make_result(test, model, 908)
    for args in (("items", "--kind", "te"), ("results", test.kim_id), ("errors",),
                 ("pipelinestatus",), ("submit", test.kim_id), ("importrepo", "--no-progress"),
                 ("runpending", "--no-progress"), ("matches", test.kim_id, "--no-kimapi")):
        data = json.loads(run(*args, "--json")[0])
        assert data is not None
    rows = json.loads(run("results", model.kim_id, "--json")[0])
    assert rows[0]["kim_id"] == "TR_000000000908_000" and rows[0]["runner"] == test.kim_id


def test_items_browses_by_kind_species_and_words(pair):
    test, model = pair
    factories.make_test("Elastic_Cu", 3, species=("Cu",), title="elastic constants of copper")
    out, _ = run("items", "--kind", "te", "--species", "cu")
    assert out.splitlines()[0].startswith("Elastic_Cu__TE_000000000003_000 [Cu]")
    assert out.splitlines()[-1] == "1 items"
    out, _ = run("items", "--search", "copper elastic")
    assert "Elastic_Cu__TE_000000000003_000" in out and test.kim_id not in out


def test_results_show_key_values_with_units(pair):
    test, model = pair
    result = factories.make_result(test, model, 909)
    result.values.create(instance=1, property_id="tag:x:property/p", property_name="p", key="a",
                         value=4.05, unit="angstrom")
    out, _ = run("results", model.kim_id, "--property", "p")
    assert out.splitlines()[0] == f"{result.kim_id} {test.kim_id} × {model.kim_id}: p: a=4.05 angstrom"


@pytest.mark.kimapi
def test_a_forced_rerun_through_the_queue_supersedes_the_old_outcome(pair):
    from repository.models import TestResult

    test, model = pair
    run("submit", test.kim_id)
    run("runpending", "--no-progress")
    first = TestResult.objects.get()
    out, _ = run("submit", test.kim_id, "--force")
    assert "1 new jobs" in out
    run("runpending", "--no-progress")
    first.refresh_from_db()
    newer = TestResult.objects.exclude(pk=first.pk).get()
    assert first.stale and not newer.stale
    assert list(TestResult.objects.current().values_list("kim_id", flat=True)) == [newer.kim_id]
