"""What a check run keeps: a VerificationResult with its grade, the figures as verification-check
instances, report.txt ending in the grade; a check whose own code fails is an Error."""

import shutil

import pytest

from kimsite import config
from repository.models import Error, Model, Status, VerificationResult
from runner import director
from runner.execute import run_pair
from runner.models import Job
from tests.examples import models
from tests.factories import make_check

from .. import broken
from .running import check_item, figures, run_check

pytestmark = [pytest.mark.kimapi, pytest.mark.django_db]


def test_a_check_keeps_its_grade_figures_and_report(examples):
    result = run_check("PeriodicitySupport", models.AL_MISHIN)

    assert isinstance(result, VerificationResult) and result.grade == "P"
    overall, *parts = result.instances
    assert overall["vc-name"]["source-value"] == "PeriodicitySupport"
    assert overall["vc-grade"]["source-value"] == "P"
    assert overall["vc-category"]["source-value"] == "consistency"
    # One figure per combination of periodic boundaries, each with its numbers and configuration.
    assert sorted(figures(result)) == sorted(
        f"pbc-{x}{y}{z}" for x in "TF" for y in "TF" for z in "TF" if "T" in x + y + z)
    assert all("relative energy difference" in comment for _, comment in figures(result).values())
    assert all(part["vc-files"]["source-value"][0].endswith(".xyz") for part in parts)
    report = (result.path / "output" / "report.txt").read_text()
    assert report.rstrip().splitlines()[-1] == "Grade: P"
    assert "pbc-TFT: P" in report
    assert (result.path / "output" / "pbc-TTT.xyz").is_file()


def test_a_graded_check_gives_a_letter(examples):
    result = run_check("ForcesNumerDeriv", models.AL_MISHIN)

    assert result.grade == "A"
    (grade, comment), = figures(result).values()
    assert grade == "A" and "max|F - F_num| / max|F_num|" in comment
    assert (result.path / "output" / "report.txt").read_text().rstrip().endswith("Grade: A")


def test_a_check_whose_own_code_fails_is_an_error_not_an_f(examples):
    # A real check with a bug planted in its code (a name that does not exist), stored beside
    # the example repository's checks so that its template finds the checks' tools.
    original = check_item("Objectivity")
    broken_check = make_check("ObjectivityWithABug", 777, root=config.KIM_REPOSITORY_DIR)
    folder = broken_check.path
    shutil.rmtree(folder)
    shutil.copytree(original.path, folder)
    runner = folder / "runner"
    runner.write_text(runner.read_text().replace("rotation = Rotation.random(",
                                                 "rotation = Rotation.no_such_thing("))

    outcome = run_pair(broken_check, Model.objects.get(kim_id=models.AL_MISHIN))

    assert isinstance(outcome, Error), outcome
    assert "no_such_thing" in outcome.stderr_tail
    assert not VerificationResult.objects.filter(verification_check=broken_check).exists()


def test_a_pending_model_runs_every_check_when_it_arrives(examples):
    model = Model.objects.get(kim_id=models.AL_MISHIN)
    model.status = Status.PENDING
    model.save(update_fields=["status"])

    director.on_item_changed(model, dispatch=False)

    queued = set(Job.objects.filter(subject_kim_id=model.kim_id).values_list("runner_kim_id",
                                                                             flat=True))
    assert {kim_id.split("__")[0] for kim_id in queued} == set(broken.CHECKS)
