"""The hooks, the command and the periodic task against a real rsync daemon (in this process)."""

import filecmp
import shutil

import pytest
from django.core.management import call_command
from django_q.models import Schedule

from repository.models import Property
from runner import director, execute, tasks
from runner.models import Publication
from runner.sync import hooks, pending, rsync
from tests.factories import AR_MODELS, make_model, make_test
from tests.sync.conftest import make_item

pytestmark = pytest.mark.django_db

PROPERTY = "structure_cubic_crystal_npt__PR_110425337914_000"


def test_without_a_remote_the_hooks_call_no_rsync(settings, repository_dir, monkeypatch):
    settings.RSYNC_ADDRESS = ""

    def refuse(*args, **kwargs):
        raise AssertionError("rsync called without a remote")

    monkeypatch.setattr(rsync, "run", refuse)
    test, model = make_test(root=repository_dir), make_model(AR_MODELS[0])
    hooks.before_run(test, model)
    hooks.before_decide(test)
    assert hooks.after_keep(test) is test
    assert not Publication.objects.exists()


@pytest.mark.kimapi
def test_run_pair_pulls_its_runner_and_pushes_its_outcome(daemon, repository_dir):
    real_read = daemon.root / "repo" / "real-read"
    test = make_test(root=real_read)  # the row is shared; the folder is only on the remote
    model = make_model(AR_MODELS[0])
    assert not test.path.exists()
    outcome = execute.run_pair(test, model)
    assert (repository_dir / "te" / test.kim_id / "kimspec.edn").is_file()
    leader = outcome.kim_id.split("_")[0].lower()
    pushed = daemon.root / "repo" / "real-write" / leader / outcome.kim_id
    assert (pushed / "kimspec.edn").is_file()
    assert not filecmp.dircmp(pushed, repository_dir / leader / outcome.kim_id).diff_files
    row = Publication.objects.get(outcome_kim_id=outcome.kim_id)
    assert (row.state, row.area, row.attempts) == ("published", "real-write", 1)
    # Pushed once: another push of the same outcome neither sends it again nor adds a row.
    assert pending.push_outcome(outcome.kim_id) and Publication.objects.get().attempts == 1


def test_a_run_whose_runner_is_neither_here_nor_on_the_remote_fails_its_attempt(daemon, repository_dir):
    test = make_test()  # a row without a folder anywhere
    with pytest.raises(pending.PipelineSyncError, match="neither here nor whole on the remote"):
        execute.run_pair(test, make_model(AR_MODELS[0]))
    assert not Publication.objects.exists()


def test_sync_pull_imports_what_it_pulled(daemon, repository_dir, examples_dir, capsys):
    shutil.copytree(examples_dir / "pr" / PROPERTY, daemon.root / "repo" / "real-read" / "pr" / PROPERTY)
    call_command("sync", "pull", "--area", "real-read")
    assert "import: 1 created" in capsys.readouterr().out
    assert Property.objects.filter(kim_id=PROPERTY).exists()


def test_the_periodic_sync_pushes_what_waits_and_pulls_and_imports_new_items(daemon, repository_dir,
                                                                             examples_dir):
    make_item(repository_dir, "TR_000000000301_000")
    pending.record("TR_000000000301_000")
    shutil.copytree(examples_dir / "pr" / PROPERTY, daemon.root / "repo" / "real-read" / "pr" / PROPERTY)
    summary = tasks.sync_remote()
    assert "pushed 1, still waiting 0; pulled 1" in summary and "1 created" in summary, summary
    assert (daemon.root / "repo" / "real-write" / "tr" / "TR_000000000301_000" / "kimspec.edn").is_file()
    assert tasks.publish_results() == "published 1"


def test_schedulepipeline_adds_the_sync_schedules_only_with_a_remote(settings, daemon):
    settings.RSYNC_ADDRESS = ""
    call_command("schedulepipeline")
    assert not Schedule.objects.filter(func__in=list(tasks.SYNC_SCHEDULES.values())).exists()
    settings.RSYNC_ADDRESS = daemon.address
    call_command("schedulepipeline")
    call_command("schedulepipeline")
    assert sorted(Schedule.objects.filter(func__startswith="runner.tasks.").values_list("func", flat=True)) == [
        "runner.tasks.publish_results", "runner.tasks.reconcile", "runner.tasks.scan_repository",
        "runner.tasks.sync_remote"]


def test_the_director_pulls_the_models_and_results_a_new_test_is_decided_on(daemon, repository_dir):
    real_read = daemon.root / "repo" / "real-read"
    make_item(real_read, "Source_Ar__MO_000000000401_000")
    make_item(real_read, "TR_000000000402_000")
    test = make_test(root=real_read)
    director.on_item_changed(test, dispatch=False)
    for path in ("mo/Source_Ar__MO_000000000401_000", "tr/TR_000000000402_000", f"te/{test.kim_id}"):
        assert (repository_dir / path / "kimspec.edn").is_file(), path


def test_approving_a_model_moves_it_and_its_verification_results_to_the_real_areas(
        daemon, repository_dir, django_capture_on_commit_callbacks):
    from runner.director import approval

    model = make_model("Pending_Ar", 70, status="pending")
    remote = daemon.root / "repo"
    make_item(remote / "temp-read", model.kim_id)
    result = "VR_000000000071_000"
    (make_item(remote / "temp-write", result) / "kimspec.edn").write_text(
        f'{{"kim-code" "{result}" "model" "{model.kim_id}"}}\n')

    # No check matches the model: nothing holds it, and the approval is the curator's.
    with django_capture_on_commit_callbacks(execute=True):  # the move waits for the commit
        decided = approval.approve(model, curator="curator")

    assert decided.approved
    assert (remote / "real-read" / "mo" / model.kim_id / "kimspec.edn").is_file()
    assert (remote / "real-read" / "vr" / result / "kimspec.edn").is_file()
    assert not (remote / "temp-read" / "mo" / model.kim_id / "kimspec.edn").exists()
    assert not (remote / "temp-write" / "vr" / result / "kimspec.edn").exists()


def test_an_approval_stands_when_the_remote_does_not_answer(daemon, repository_dir, caplog,
                                                           django_capture_on_commit_callbacks):
    from runner.director import approval

    model = make_model("Pending_Ar", 72, status="pending")
    daemon.stop()

    with django_capture_on_commit_callbacks(execute=True):
        assert approval.approve(model, curator="curator").approved

    model.refresh_from_db()
    assert model.status == "approved"
    assert f"sync publish --approve {model.kim_id}" in caplog.text
