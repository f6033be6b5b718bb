"""The pipeline's django-q2 cluster: django-q2's own, with a watchdog on its task queue's lock.

django-q2's workers take tasks from one ``multiprocessing.Queue`` with a blocking ``get``, and
CPython's ``get`` holds the queue's read lock (a process-shared semaphore) for as long as it
waits. So at any moment one idle worker holds that lock. If that worker dies (SIGKILL, the OOM
killer), the lock stays taken: every other worker, and the one django-q2 spawns in its place,
then wait for it forever and the cluster takes no task again while it looks alive (found by
``tests/faults/test_worker_sigkill.py``: 33 jobs queued, none running, for 120 s). A worker
killed inside a task never holds it, which is why django-q2's own timeout kills are safe.

The watchdog, a small process beside the pusher, releases a lock that is held while a task has
been waiting in the queue's pipe for ``PIPELINE_QUEUE_LOCK_PATIENCE`` seconds: a live holder
reads a waiting task within microseconds, so a lock held that long with a task waiting belongs
to a dead worker. Releasing a semaphore taken by another process is allowed for a
non-recursive ``multiprocessing.Lock``. The lock and the pipe are read through the queue's
private attributes (``_rlock``, ``_reader``): multiprocessing has no public way to either.

Left alone: the write lock of the result queue (held while a worker's feeder thread writes a
finished task, microseconds), the queue's size counter (held for one increment), and a worker
killed in the middle of reading one task (the next reader would read the rest of it as a task).
"""

import logging
import os
import time

from django.conf import settings
from django_q import cluster as django_q_cluster

from runner import processes

logger = logging.getLogger("pipeline.runner.cluster")

#: How often the watchdog looks at the lock, in seconds.
WATCH_EVERY = 0.5


def lock_is_held(lock) -> bool:
    """Whether somebody holds ``lock`` (a multiprocessing.Lock) now, read without taking it:
    a watchdog killed between taking and giving back would orphan the lock itself."""
    return lock._semlock._get_value() == 0


def task_waiting(task_queue) -> bool:
    """Whether bytes of a task wait in the queue's pipe. Not ``qsize()``: django-q2 counts in a
    counter of its own, which a worker killed between reading a task and counting it, or a
    pusher killed before its feeder thread wrote one, leaves too high for good."""
    return task_queue._reader.poll(0)


def orphaned(task_queue, held_since: float | None, patience: float,
             now: float) -> tuple[bool, float | None]:
    """One look at the queue: (whether its read lock is orphaned, since when it has looked so)."""
    # A task waits in the pipe while the read lock is held: nobody is reading it.
    if lock_is_held(task_queue._rlock) and task_waiting(task_queue):
        held_since = now if held_since is None else held_since
        return now - held_since >= patience, held_since
    return False, None


def watch_read_lock(task_queue, stop_event, patience: float | None = None) -> None:
    """The watchdog's loop, until the cluster stops (or its sentinel dies)."""
    patience = settings.PIPELINE_QUEUE_LOCK_PATIENCE if patience is None else patience
    processes.die_with_parent()  # a SIGKILLed cluster leaves no watchdog behind
    logger.info("queue watchdog %s watching the task queue's read lock (patience %s s)",
                os.getpid(), patience)
    held_since = None
    while not stop_event.is_set():
        stuck, held_since = orphaned(task_queue, held_since, patience, time.monotonic())
        if stuck:
            try:
                task_queue._rlock.release()
            except ValueError:  # given back meanwhile after all: nothing to release
                pass
            else:
                logger.critical(
                    "the task queue's read lock was held for %.1f s with a task waiting: "
                    "a worker died holding it; released, so the workers take tasks again",
                    time.monotonic() - held_since)
            held_since = None
        time.sleep(WATCH_EVERY)


class PipelineSentinel(django_q_cluster.Sentinel):
    """django-q2's sentinel, plus the read lock's watchdog (not reincarnated: if it dies, the
    cluster runs as plain django-q2 does)."""

    def spawn_cluster(self):
        super().spawn_cluster()
        self.watchdog = self.spawn_process(watch_read_lock, self.task_queue, self.stop_event)


class PipelineCluster(django_q_cluster.Cluster):
    """``manage.py qcluster``'s cluster: its sentinel is a ``PipelineSentinel``."""

    def start(self) -> int:
        # django-q2's Cluster.start names its sentinel class by the module's global; this
        # process only ever runs this cluster, so the global is set here for good.
        django_q_cluster.Sentinel = PipelineSentinel
        return super().start()
