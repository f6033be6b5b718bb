"""Hostile runners: each tries one escape and prints ESCAPED if it worked, BLOCKED if it did not."""

import pytest

from runner import sandbox
from tests.fixtures.runner.cast import installed_model, made_test
from tests.fixtures.runner.warm import ready_warm_server

pytestmark = pytest.mark.django_db


@pytest.fixture
def model(repository_dir):
    return installed_model()


@pytest.fixture(params=["fresh", "warm"])
def hostile(model, request, settings, tmp_path):
    """Run a Python runner body on the Al model; return the Error it ends as.

    Twice: as a fresh interpreter, and forked from the warm server (runner.warm), which must
    hold the same line.
    """
    from runner.execute import run_pair

    settings.PIPELINE_PREWARM = "on" if request.param == "warm" else "0"
    if request.param == "warm":
        ready_warm_server(tmp_path)

    counter = iter(range(900, 999))

    def run(body: str, name: str = "Hostile"):
        kim_id = f"{name}__TE_000000015{next(counter):03d}_000"
        test = made_test(kim_id, {"pipeline.stdin.tpl": "", "runner": (
            "#!/usr/bin/env python3\nimport os, sys, socket, subprocess, time\n" + body)})
        return run_pair(test, model)
    run.mode = request.param
    return run


@pytest.fixture(autouse=True)
def sandbox_on(settings):
    assert sandbox.bwrap() is not None, "bubblewrap is part of the setup: bwrap must be installed"
    settings.PIPELINE_SANDBOX = "on"
