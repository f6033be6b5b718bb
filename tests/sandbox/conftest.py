"""Hostile runners: each tries one escape and prints ESCAPED if it worked, BLOCKED if it did not."""

import pytest

from runner import sandbox
from tests.fixtures.runner.cast import installed_model, made_test

pytestmark = pytest.mark.django_db


@pytest.fixture
def model(repository_dir):
    return installed_model()


@pytest.fixture
def hostile(model):
    """Run a Python runner body on the Al model; return the Error it ends as."""
    from runner.execute import run_pair

    counter = iter(range(900, 999))

    def run(body: str, name: str = "Hostile"):
        kim_id = f"{name}__TE_000000015{next(counter):03d}_000"
        test = made_test(kim_id, {"pipeline.stdin.tpl": "", "runner": (
            "#!/usr/bin/env python3\nimport os, sys, socket, subprocess, time\n" + body)})
        return run_pair(test, model)
    return run


@pytest.fixture(autouse=True)
def sandbox_on(settings):
    assert sandbox.bwrap() is not None, "bubblewrap is part of the setup: bwrap must be installed"
    settings.PIPELINE_SANDBOX = "on"
