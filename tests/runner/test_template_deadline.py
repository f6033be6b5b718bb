"""The render's time bound shares ITIMER_REAL with django-q2's task timeout (``signal.alarm``).

The tests arm the process's real timer themselves, as django-q2's worker does around every task,
and check that a render keeps it: the time left, its handler, and its firing during a render.
"""

import signal
import time

import pytest
from django_q.exceptions import TimeoutException
from django_q.tasks import async_task
from django_q.timeout import TimeoutHandler

from runner.template import RenderTimeout, render_text
from tests.fixtures.runner.cast import installed_model, made_test

pytestmark = pytest.mark.django_db

# Runs until the render's deadline stops it (10^10 iterations).
ENDLESS = "start\n@[ for i in range(100000) ]@@[ for j in range(100000) ]@@[ endfor ]@@[ endfor ]@\n"


@pytest.fixture
def model(repository_dir):
    return installed_model()


@pytest.fixture
def test_item(repository_dir):
    return made_test("Rendered_fcc_Al__TE_000000000016_000",
                     {"pipeline.stdin.tpl": "@< MODELNAME >@\n", "runner": "#!/bin/sh\n"})


@pytest.fixture(autouse=True)
def real_timer():
    """Leave SIGALRM and ITIMER_REAL as they were, whatever a test armed."""
    handler = signal.getsignal(signal.SIGALRM)
    yield
    signal.setitimer(signal.ITIMER_REAL, 0)
    signal.signal(signal.SIGALRM, handler)


class OwnersAlarm(SystemExit):
    """What the owner of a pending alarm raises (a SystemExit, as django-q2's TimeoutException)."""


def render(source, runner_item, model):
    return render_text(source, runner_item, model, filename="pipeline.stdin.tpl").text


def test_a_pending_alarm_survives_a_render_with_its_time_left_and_its_handler(test_item, model):
    def owner(signum, frame):
        raise OwnersAlarm("the owner's alarm")

    signal.signal(signal.SIGALRM, owner)
    signal.setitimer(signal.ITIMER_REAL, 50.0)
    armed = time.monotonic()
    render("@< MODELNAME >@\n", test_item, model)
    left, _ = signal.getitimer(signal.ITIMER_REAL)
    elapsed = time.monotonic() - armed
    # Exactly what the owner would have left had nobody borrowed the timer (timer granularity).
    assert 50.0 - elapsed - 0.05 <= left <= 50.0 - elapsed + 0.01
    assert signal.getsignal(signal.SIGALRM) is owner


def test_a_pending_alarm_due_during_a_render_runs_its_own_handler(test_item, model, settings):
    settings.PIPELINE_RENDER_TIMEOUT = 20
    fired = []

    def owner(signum, frame):
        fired.append(signum)
        raise OwnersAlarm("the owner's alarm")

    signal.signal(signal.SIGALRM, owner)
    signal.setitimer(signal.ITIMER_REAL, 0.2)
    with pytest.raises(OwnersAlarm):
        render(ENDLESS, test_item, model)
    assert fired == [signal.SIGALRM]
    assert signal.getsignal(signal.SIGALRM) is owner
    assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)


def test_a_pending_alarm_whose_handler_returns_leaves_the_render_bounded(test_item, model, settings):
    settings.PIPELINE_RENDER_TIMEOUT = 1
    fired = []
    signal.signal(signal.SIGALRM, lambda signum, frame: fired.append(signum))
    signal.setitimer(signal.ITIMER_REAL, 0.2)
    with pytest.raises(RenderTimeout, match="longer than 1 s"):
        render(ENDLESS, test_item, model)
    assert fired == [signal.SIGALRM]
    assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)


def test_an_endless_template_ends_as_a_render_timeout_before_a_later_pending_alarm(
        test_item, model, settings):
    settings.PIPELINE_RENDER_TIMEOUT = 0.5
    fired = []
    signal.signal(signal.SIGALRM, lambda signum, frame: fired.append(signum))
    signal.setitimer(signal.ITIMER_REAL, 60.0)
    with pytest.raises(RenderTimeout, match="longer than 0.5 s"):
        render(ENDLESS, test_item, model)
    left, _ = signal.getitimer(signal.ITIMER_REAL)
    assert fired == []
    assert 55.0 < left < 60.0


def test_a_django_q_timeout_still_ends_a_task_that_rendered(test_item, model):
    # django-q2's own handler and signal.alarm, as its worker wraps every task.
    with pytest.raises(TimeoutException), TimeoutHandler(1):
        render("@< MODELNAME >@\n", test_item, model)
        time.sleep(5)


def render_then_sleep(test_id: str, model_id: str) -> str:
    """A queue task that renders, then outstays its timeout (a runner that hangs)."""
    from repository.models import Model, Test

    render("@< MODELNAME >@\n", Test.objects.get(kim_id=test_id), Model.objects.get(kim_id=model_id))
    time.sleep(5)
    return "outlived its timeout"


def test_a_django_q_task_that_renders_then_outstays_its_timeout_is_killed(test_item, model):
    # Through django-q2's worker (the test settings run tasks inline and re-raise their errors).
    with pytest.raises(TimeoutException):
        async_task(f"{__name__}.render_then_sleep", test_item.kim_id, model.kim_id, timeout=1)
