"""The pipeline's django-q2 cluster: django-q2's own, made to survive a worker SIGKILLed anywhere.

django-q2's processes share a handful of locks, and a process killed while it holds one (a
SIGKILL, the OOM killer) leaves it taken for good: whoever needs it next waits forever, and the
cluster stops taking tasks while it looks alive (found by ``tests/faults/test_worker_sigkill.py``:
33 jobs queued, none running, for 120 s; made certain by ``tests/fixtures/pipeline/dying.py``).
Each is handled here:

* **The task queue's read lock.** Workers take tasks with a blocking ``get``, and CPython's
  ``get`` holds the queue's read lock (a process-shared semaphore) for as long as it waits, so at
  any moment one idle worker holds it. A watchdog, a small process beside the pusher, releases
  it when it is held while a task has been waiting in the queue's pipe for
  ``PIPELINE_QUEUE_LOCK_PATIENCE`` seconds: a live holder reads a waiting task within
  microseconds, so a lock held that long with a task waiting belongs to a dead worker. Releasing
  a semaphore taken by another process is allowed for a non-recursive ``multiprocessing.Lock``.
* **The queues' size counters and the result queue's write lock.** The counters are taken
  for every task read and every result put, the write lock by a worker's feeder thread while
  it writes a result to the monitor (microseconds, more on a busy machine). An orphaned counter
  stops the pusher, every worker, the monitor and the guard's status save; an orphaned write
  lock keeps every result from the monitor (no delivery is acknowledged to the broker again)
  and every worker from exiting at its recycle. Here they are open file description locks
  (``RecordLock``), which the kernel gives back when their holder dies.
* **Each worker's timer.** A worker holds its timer's lock at the end of every task, while it
  puts the result on the result queue; django-q2's guard takes that lock before it asks whether
  the worker lives, so a worker killed there stops the guard, and no dead worker is replaced
  again. The guard here hands a dead worker's timer over first (``WorkerPool``).

The locks and the pipe are reached through the queues' private attributes (``_rlock``,
``_wlock``, ``_reader``): multiprocessing has no public way to any of them. What ``WorkerPool`` relies on is
django-q2 1.11's guard loop (pyproject pins 1.11). Left alone (docs/RELIABILITY.md): a worker
killed in the middle of reading one task (the next reader would read the rest of it as a task)
or between reading it and giving its place back (the queue holds one task fewer from then on);
the guard's own look at a worker that dies in the microseconds the guard waits for its timer.
"""

import fcntl
import logging
import os
import struct
import tempfile
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


class RecordLock:
    """A lock between processes that the kernel gives back when its holder dies: an open file
    description lock (Linux's ``F_OFD_SETLKW``) on one byte of a file every process of the
    cluster inherits (fork), which each process opens again for itself at its first use.

    One holder per open file description, so per process, not per thread: each of these locks
    is taken by one thread of a process (the counters by its main thread, the result queue's
    write lock by its feeder thread). Unlike a classic POSIX record lock, the kernel looks for
    no deadlock between them: a worker whose feeder holds one lock while its main thread waits
    for another is normal here, not a cycle. The lock lasts while its open file description
    does: it is close-on-exec, and no process of the cluster forks without exec'ing.
    """

    def __init__(self, file, byte: int):
        self._inherited, self._byte = file.fileno(), byte
        self._pid, self._fd = None, None

    def _own_fd(self) -> int:
        if self._pid != os.getpid():  # the first use in this process
            self._fd = os.open(f"/proc/self/fd/{self._inherited}", os.O_RDWR | os.O_CLOEXEC)
            self._pid = os.getpid()
        return self._fd

    def _lock(self, kind: int, command: int) -> None:
        # struct flock: type, whence, start, length, pid (0 for a lock of the open file).
        fcntl.fcntl(self._own_fd(), command, struct.pack("hhqqi", kind, os.SEEK_SET,
                                                         self._byte, 1, 0))

    def acquire(self, blocking: bool = True) -> bool:
        try:
            self._lock(fcntl.F_WRLCK, fcntl.F_OFD_SETLKW if blocking else fcntl.F_OFD_SETLK)
        except (BlockingIOError, PermissionError):  # held elsewhere (EAGAIN or EACCES)
            return False
        return True

    def release(self) -> None:
        self._lock(fcntl.F_UNLCK, fcntl.F_OFD_SETLK)

    def __enter__(self) -> "RecordLock":
        return self.acquire() and self

    def __exit__(self, *exc) -> None:
        self.release()


class QueueCounter:
    """django-q2's count of a queue's tasks (``django_q.queues.SharedCounter``: ``increment``
    and ``value``), counted under a ``RecordLock``."""

    def __init__(self, lock: RecordLock):
        self.count = django_q_cluster.get_mp_context().RawValue("i", 0)
        self.lock = lock

    def increment(self, n: int = 1) -> None:
        with self.lock:
            self.count.value += n

    @property
    def value(self) -> int:
        return self.count.value


class WorkerPool(list):
    """The sentinel's workers, which hand a dead worker's timer over before the guard takes its
    lock.

    django-q2 1.11's guard runs ``with p.timer.get_lock(): if not p.is_alive(): reincarnate`` for
    each worker: a worker killed while it held its timer's lock would stop the guard there for
    good. A dead worker never touches its timer again, so its timer is swapped for a fresh one
    holding its last value (read without the lock), which the guard and ``reincarnate`` read as
    they would have (0 says the worker was ended for its timeout).
    """

    def __iter__(self):
        for process in super().__iter__():  # by index, as django-q2's loop changes the list
            if not process.is_alive():
                process.timer = django_q_cluster.get_mp_context().Value(
                    "f", process.timer.get_obj().value)
            yield process


class PipelineSentinel(django_q_cluster.Sentinel):
    """django-q2's sentinel, with the locks of the module's docstring made to survive their
    holder: the queues counted under record locks, the guard's pool handing dead workers'
    timers over, and the read lock's watchdog (not reincarnated: if it dies, the cluster runs as
    plain django-q2 does)."""

    def spawn_cluster(self):
        # Before the first fork, so every process of the cluster shares them. The file is
        # unlinked at once: it lives as long as a process of the cluster holds it open.
        self.lock_file = tempfile.TemporaryFile()
        self.task_queue.size = QueueCounter(RecordLock(self.lock_file, 0))
        self.result_queue.size = QueueCounter(RecordLock(self.lock_file, 1))
        self.result_queue._wlock = RecordLock(self.lock_file, 2)
        super().spawn_cluster()
        self.watchdog = self.spawn_process(watch_read_lock, self.task_queue, self.stop_event)

    def guard(self):
        self.pool = WorkerPool(self.pool)
        super().guard()


class PipelineCluster(django_q_cluster.Cluster):
    """``manage.py qcluster``'s cluster: its sentinel is a ``PipelineSentinel``."""

    def start(self) -> int:
        # django-q2's Cluster.start names its sentinel class by the module's global; this
        # process only ever runs this cluster, so the global is set here for good.
        django_q_cluster.Sentinel = PipelineSentinel
        return super().start()
