"""An item's code runs only as it was imported: a changed runner or driver is refused by name."""

from pathlib import Path

import pytest
from django.core import checks

from repository.models import Error
from runner.execute import run_pair
from tests.fixtures.runner.cast import (
    DRIVER_2012,
    LATTICE_2020,
    import_fixture,
    import_lattice_2012,
)

pytestmark = [pytest.mark.django_db, pytest.mark.kimapi]


def test_a_runner_changed_after_import_is_refused_before_it_runs(model, tmp_path):
    test = import_fixture("te", LATTICE_2020)
    assert test.content_hash
    witness = tmp_path / "ran"
    runner = Path(test.path) / "runner"
    runner.write_text(f"#!/bin/sh\ntouch {witness}\n")
    outcome = run_pair(test, model)
    assert isinstance(outcome, Error) and outcome.category == Error.Category.INTEGRITY
    assert test.kim_id in outcome.message and "changed since import" in outcome.message
    assert not witness.exists()


def test_a_driver_changed_after_import_is_refused_naming_the_driver(model):
    test = import_lattice_2012()
    driver = test.driver
    assert driver.kim_id == DRIVER_2012 and driver.content_hash
    (Path(driver.path) / "extra.py").write_text("print('appended after import')\n")
    outcome = run_pair(test, model)
    assert isinstance(outcome, Error) and outcome.category == Error.Category.INTEGRITY
    assert DRIVER_2012 in outcome.message


def test_the_check_warns_when_the_sandbox_is_off(settings):
    settings.PIPELINE_SANDBOX = "off"
    ids = {problem.id for problem in checks.run_checks(tags=["pipeline"])}
    assert "runner.W003" in ids
    settings.PIPELINE_SANDBOX = "on"
    assert "runner.W003" not in {problem.id for problem in checks.run_checks(tags=["pipeline"])}
