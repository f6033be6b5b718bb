"""Messages a person can act on (KIM ID typos, versions, names, kinds), matches --why in a
summary, importrepo reconciling outcome folders and rows, installitems' "unchanged", and the
production settings."""

import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management.base import CommandError

from repository.errors import PipelineSearchError
from repository.models import Error, TestResult, kim_obj
from tests import factories
from tests.curator.conftest import run

pytestmark = pytest.mark.django_db

PROJECT = Path(__file__).resolve().parents[2]


@pytest.fixture
def items(repository_dir):
    model = factories.make_model("EAM_Al", 123629422045, 5, species=("Al",))
    bulk = factories.make_test("BulkModulusCubic_fcc_Al", 490118396372, species=("Al",))
    factories.make_test("BulkModulusCubic_fcc_Al", 490118396372, 1, species=("Al",))
    return model, bulk


@pytest.mark.parametrize("typed, message", [
    ("TE_490118396373", "no test TE_490118396373; did you mean TE_490118396372 "
                        "(BulkModulusCubic_fcc_Al)?"),
    ("TE_490118396372_003", "BulkModulusCubic_fcc_Al has no version 003; its versions: 000, 001"),
    ("MO_490118396372", "no model MO_490118396372; TE_490118396372 is a test: "
                        "BulkModulusCubic_fcc_Al__TE_490118396372_001"),
    ("BulkModulusCubic_fcc_Alx", "no item has the name BulkModulusCubic_fcc_Alx; did you mean "
                                 "BulkModulusCubic_fcc_Al__TE_490118396372_001?"),
])
def test_a_miss_says_what_exists(items, typed, message):
    with pytest.raises(PipelineSearchError) as missed:
        kim_obj(typed)
    assert str(missed.value) == message
    assert "Error" not in message and "('" not in message


@pytest.mark.parametrize("typed", ["BulkModulusCubic_fcc_Al", "490118396372", "te_490118396372",
                                   "bulkmodulusCubic_fcc_al"])
def test_names_bare_numbers_and_lower_case_leaders_are_found_when_unambiguous(items, typed):
    assert kim_obj(typed).kim_id == "BulkModulusCubic_fcc_Al__TE_490118396372_001"


def test_an_ambiguous_bare_number_asks_for_the_full_id(items):
    factories.make_model("Other", 490118396372)
    with pytest.raises(PipelineSearchError, match="ambiguous: .* or .*; give the full KIM ID"):
        kim_obj("490118396372")


def test_runpair_with_the_arguments_swapped_says_which_is_which(items):
    model, bulk = items
    with pytest.raises(CommandError) as swapped:
        run("runpair", model.kim_id, "TE_490118396372")
    assert str(swapped.value) == (f"{model.kim_id} is a model, not a test or verification check; "
                                  f"did you mean `runpair TE_490118396372 {model.kim_id}`?")
    with pytest.raises(CommandError, match="did you mean TE_490118396372"):
        run("runpair", "TE_490118396373", model.kim_id)


def test_matches_why_summarises_non_matches_per_rule(items):
    model, _ = items
    for number in range(3):
        factories.make_model(f"Fe_{number}", 700 + number, species=("Fe",))
    out, _ = run("matches", "TE_490118396372", "--why", "--no-kimapi")
    lines = out.splitlines()
    assert lines[:2] == ["BulkModulusCubic_fcc_Al__TE_490118396372_001: 1 matching models "
                         "(KIM API not asked)", f"  {model.kim_id}  not run"]
    assert lines[2] == "3 not matching:"
    assert lines[3].startswith("  [species] 3 models, e.g. Fe_0__MO_000000000700_000: ")
    assert len(lines) == 4, "a summary, not one line per model"
    every = run("matches", "TE_490118396372", "--why", "--no-kimapi", verbosity=2)[0]
    assert sum("[species] Fe_" in line for line in every.splitlines()) == 3


def test_matches_says_each_partners_result_error_or_job(items):
    from runner.models import Job

    model, _ = items
    test = kim_obj("TE_490118396372")
    other = factories.make_model("EAM_Al2", 124, species=("Al",))
    third = factories.make_model("EAM_Al3", 125, species=("Al",))
    factories.make_result(test, model, 990)
    factories.make_error(other, 991, test=test, category=Error.Category.TIMEOUT)
    job = Job.objects.create(runner_kim_id=test.kim_id, subject_kim_id=third.kim_id)
    out, _ = run("matches", test.kim_id, "--no-kimapi")
    assert f"  {model.kim_id}  result TR_000000000990_000" in out
    assert f"  {other.kim_id}  error ER_000000000991_000 (timeout)" in out
    assert f"  {third.kim_id}  job {job.pk} queued" in out


def test_importrepo_recreates_rows_of_outcome_folders_and_reports_rows_without_one(items):
    model, _ = items
    test = kim_obj("TE_490118396372")
    gone = factories.make_error(model, 992, test=test)
    folder = repository_root() / "er" / "ER_000000000993_000"
    folder.mkdir(parents=True)
    (folder / "kimspec.edn").write_text(f'{{"extended-id" "ER_000000000993_000" '
                                        f'"model" "{model.kim_id}" "test" "{test.kim_id}"}}')
    (folder / "pipeline.exception").write_text("timeout: killed after the wall-clock limit of 9 s\n")
    out, err = run("importrepo", "--no-progress")
    assert "recreated the rows of 1 outcome folders that had none: ER_000000000993_000" in out
    recreated = Error.objects.get(kim_id="ER_000000000993_000")
    assert (recreated.category, recreated.message, recreated.runner, recreated.model) == (
        "timeout", "killed after the wall-clock limit of 9 s", test, model)
    assert f"{gone.kim_id}: its folder " in err and "is gone" in err
    assert "recreated" not in run("importrepo", "--no-progress")[0], "once"


def repository_root():
    from repository import storage

    return storage.repository_root()


def test_production_settings_make_check_deploy_clean(tmp_path):
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), "KIM_DIR": str(tmp_path / "kim"),
           "KIM_LOG_DIR": str(tmp_path / "logs"), "SECRET_KEY": secrets.token_urlsafe(60),
           "ALLOWED_HOSTS": "kim.example.org", "SECURE_HSTS_SECONDS": "31536000",
           "SECURE_HSTS_INCLUDE_SUBDOMAINS": "1", "SECURE_HSTS_PRELOAD": "1",
           "SECURE_SSL_REDIRECT": "1", "SESSION_COOKIE_SECURE": "1", "CSRF_COOKIE_SECURE": "1"}
    check = [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"]
    clean = subprocess.run(check, cwd=PROJECT, env=env, capture_output=True, text=True)
    assert clean.returncode == 0, clean.stdout + clean.stderr
    bare = {k: v for k, v in env.items() if not k.startswith(("SECURE_", "SESSION_", "CSRF_"))}
    warned = subprocess.run(check, cwd=PROJECT, env=bare, capture_output=True, text=True)
    assert warned.returncode != 0 and "security.W004" in warned.stderr + warned.stdout


@pytest.mark.kimapi
def test_kim_collections_are_reported_in_a_sentence_and_installitems_says_unchanged(repository_dir):
    from tests.fixtures.runner.cast import made_test

    out, _ = run("importrepo", "--kim-collections", "--no-progress")
    sentence = out.splitlines()[0]
    assert sentence.startswith("KIM API collections: ") and sentence.endswith(".")
    assert "{" not in sentence and "portable models" in sentence and "skipped (" in sentence
    detail, _ = run("importrepo", "--kim-collections", "--no-progress", verbosity=2)
    skipped = [line for line in detail.splitlines() if line.startswith("  skipped ")]
    said = int(detail.splitlines()[0].split("; ")[1].split(" skipped")[0])
    assert len(skipped) == said > 0, "-v 2 names each item skipped"
    assert any("its name is not a KIM ID" in line for line in skipped)
    test = made_test("Named__TE_000000000794_000", {
        "Makefile": "runner:\n\tprintf '#!/bin/sh\\nexit 0\\n' > runner; chmod +x runner\n",
        "pipeline.stdin.tpl": ""})
    first, _ = run("installitems", test.kim_id)
    assert first.splitlines()[0] == "installed 1, unchanged 0, failed 0"
    second, _ = run("installitems", test.kim_id, verbosity=2)
    assert second.splitlines() == ["installed 0, unchanged 1, failed 0", f"  unchanged {test.kim_id}"]
    assert not TestResult.objects.exists()
