"""A bound on how long a render may take, that shares ITIMER_REAL with whoever armed it first.

SIGALRM and ITIMER_REAL are one timer per process, and django-q2 enforces its task timeout with
``signal.alarm`` on that same timer (``django_q/timeout.py``). A render therefore must not
simply arm and disarm it: the alarm pending when the render starts is kept. Whichever of the two
is due first is armed; when the pending one falls due during the render its own handler runs
(django-q2's raises its TimeoutException, which ends the render and the task), and after the
render the pending alarm is armed again with the time it has left, and its handler restored.
"""

import contextlib
import os
import signal
import threading
import time

from repository.errors import PipelineTemplateError

#: Seconds by which an alarm may arrive before the time it was computed for (clock granularity).
_SLACK = 0.001
#: The shortest time setitimer is given: 0 would disarm instead of firing at once.
_AT_ONCE = 1e-6


class RenderTimeout(PipelineTemplateError):
    """Rendering ran past settings.PIPELINE_RENDER_TIMEOUT (an endless loop in a template)."""


def _run_handler(handler, signum, frame) -> None:
    """What SIGALRM would have done under ``handler`` had the render not borrowed the timer."""
    if callable(handler):
        handler(signum, frame)
    elif handler == signal.SIG_IGN:
        return
    else:
        # SIG_DFL (or a handler installed outside Python): SIGALRM's default action ends the
        # process, as it would have without the render.
        signal.signal(signal.SIGALRM, signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGALRM)


@contextlib.contextmanager
def deadline(seconds: float, filename: str):
    """Raise RenderTimeout in the block after ``seconds``; keep any alarm already pending.

    Only the main thread can take SIGALRM: elsewhere (and for ``seconds <= 0``) the block runs
    unbounded.
    """
    if threading.current_thread() is not threading.main_thread() or seconds <= 0:
        yield
        return
    previous = signal.getsignal(signal.SIGALRM)
    pending, interval = signal.getitimer(signal.ITIMER_REAL)
    start = time.monotonic()
    render_due = start + seconds
    # None: no alarm was pending, or a one-shot pending alarm has fired during the render.
    pending_due = start + pending if pending > 0 else None

    def arm() -> None:
        dues = [render_due] if pending_due is None else [render_due, pending_due]
        signal.setitimer(signal.ITIMER_REAL, max(min(dues) - time.monotonic(), _AT_ONCE))

    def expire(signum, frame):
        nonlocal pending_due
        now = time.monotonic()
        if pending_due is not None and now >= pending_due - _SLACK:
            # The pending alarm is due: it goes to its owner. A periodic one comes round again.
            pending_due = pending_due + interval if interval > 0 else None
            arm()  # the render's own deadline still holds if the owner's handler returns
            _run_handler(previous, signum, frame)
            return
        if now >= render_due - _SLACK:
            raise RenderTimeout(f"rendering took longer than {seconds} s", path=filename)
        arm()  # delivered early: wait for whichever is due

    signal.signal(signal.SIGALRM, expire)
    arm()
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous if previous is not None else signal.SIG_DFL)
        if pending_due is not None:
            # The pending alarm with the time it has left (at once if it fell due just now).
            left = max(pending_due - time.monotonic(), _AT_ONCE)
            signal.setitimer(signal.ITIMER_REAL, left, interval)
