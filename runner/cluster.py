"""The pipeline's django-q2 cluster: django-q2's own, made to survive a process SIGKILLed anywhere.

django-q2's processes share a handful of locks, and a process killed while it holds one (a
SIGKILL, the OOM killer) leaves it taken for good: whoever needs it next waits forever, and the
cluster stops taking tasks while it looks alive (found by ``tests/faults/test_worker_sigkill.py``:
33 jobs queued, none running, for 120 s; made certain by ``tests/fixtures/pipeline/dying.py``).
Handled here:

* **The queues' read locks.** CPython's blocking ``get`` holds a queue's read lock (a
  process-shared semaphore) for as long as it waits: an idle worker holds the task queue's, the
  monitor the result queue's whenever it waits for a result. A watchdog, a small process beside
  the pusher, releases one when it is held while a message has been waiting in the queue's pipe
  for ``PIPELINE_QUEUE_LOCK_PATIENCE`` seconds: a live holder reads a waiting message within
  microseconds, so a lock held that long with one waiting belongs to a dead process. Releasing
  a semaphore taken by another process is allowed for a non-recursive ``multiprocessing.Lock``.
* **The queues' size counters and write locks.** The counters are taken for every task read
  and every result put; the write locks by the pusher's and each worker's feeder thread while
  it writes (microseconds, more on a busy machine). An orphaned counter stops the pusher, every
  worker, the monitor and the guard's status save; an orphaned write lock keeps every task from
  the workers, or every result from the monitor (no delivery is acknowledged to the broker
  again, and no worker can exit at its recycle). Here they are open file description locks
  (``RecordLock``), which the kernel gives back when their holder dies.
* **Each worker's timer.** A worker holds its timer's lock at the end of every task, while it
  puts the result on the result queue; django-q2's guard takes that lock before it asks whether
  the worker lives, so a worker killed there stops the guard, and no dead worker is replaced
  again. The guard here waits for it in short tries and takes a dead worker's timer over
  (``GuardedTimer``).

The locks and the pipes are reached through the queues' private attributes (``_rlock``,
``_wlock``, ``_reader``): multiprocessing has no public way to any of them. What
``GuardedTimer`` relies on is django-q2 1.11's guard loop (pyproject pins 1.11). Fork only: the
cluster's processes share these through inheritance, never through pickling. Left alone
(docs/RELIABILITY.md): a process killed in the middle of writing a message larger than a pipe
writes at once (4 KiB; a task and a job's result are far smaller, a failed task's traceback may
not be) or of reading one, which leaves the pipe's messages misframed; a worker killed between
reading a task and giving its place in the queue back (the queue holds one task fewer from then
on; with ``queue_limit`` 2, the second such loss leaves the pusher waiting for a place for
ever).
"""

import fcntl
import logging
import os
import struct
import tempfile
import threading
import time
from contextlib import contextmanager

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


def message_waiting(queue) -> bool:
    """Whether bytes of a message (a task, a result) wait in the queue's pipe. Not ``qsize()``:
    django-q2 counts in a counter of its own, which a worker killed between reading a task and
    counting it, or a pusher killed before its feeder thread wrote one, leaves too high."""
    return queue._reader.poll(0)


def orphaned(queue, held_since: float | None, patience: float,
             now: float) -> tuple[bool, float | None]:
    """One look at the queue: (whether its read lock is orphaned, since when it has looked so)."""
    # A message waits in the pipe while the read lock is held: nobody is reading it.
    if lock_is_held(queue._rlock) and message_waiting(queue):
        held_since = now if held_since is None else held_since
        return now - held_since >= patience, held_since
    return False, None


#: What the watchdog says of each queue's orphaned read lock: the queue, and who died holding it.
READERS = {"task": ("task queue", "a worker died holding it; released, so the workers take "
                                  "tasks again"),
           "result": ("result queue", "the monitor died holding it; released, so the new "
                                      "monitor takes results again")}


def watch_read_locks(queues: dict, stop_event, patience: float | None = None) -> None:
    """The watchdog's loop over the queues' read locks (``{"task": queue, "result": queue}``),
    until the cluster stops (or its sentinel dies). The task queue's is held by an idle worker,
    the result queue's by the monitor whenever it waits for a result."""
    patience = settings.PIPELINE_QUEUE_LOCK_PATIENCE if patience is None else patience
    processes.die_with_parent()  # a SIGKILLed cluster leaves no watchdog behind
    logger.info("queue watchdog %s watching the read locks of the %s queues (patience %s s)",
                os.getpid(), " and ".join(queues), patience)
    held_since = dict.fromkeys(queues)
    while not stop_event.is_set():
        for name, queue in queues.items():
            stuck, held_since[name] = orphaned(queue, held_since[name], patience,
                                               time.monotonic())
            if not stuck:
                continue
            try:
                queue._rlock.release()
            except ValueError:  # given back meanwhile after all: nothing to release
                pass
            else:
                what, who = READERS[name]
                logger.critical("the %s's read lock was held for %.1f s with a message waiting: "
                                "%s", what, time.monotonic() - held_since[name], who)
            held_since[name] = None
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
        self._opening = threading.Lock()

    def _own_fd(self) -> int:
        if self._pid != os.getpid():  # the first use in this process
            with self._opening:
                if self._pid != os.getpid():
                    self._fd = os.open(f"/proc/self/fd/{self._inherited}",
                                       os.O_RDWR | os.O_CLOEXEC)
                    self._pid = os.getpid()
        return self._fd

    def _lock(self, kind: int, command: int) -> None:
        # struct flock: type, whence, start, length, pid (0 for a lock of the open file).
        fcntl.fcntl(self._own_fd(), command, struct.pack("hhqqi", kind, os.SEEK_SET,
                                                         self._byte, 1, 0))

    def acquire(self, blocking: bool = True) -> bool:
        if blocking:
            self._lock(fcntl.F_WRLCK, fcntl.F_OFD_SETLKW)
            return True
        try:
            self._lock(fcntl.F_WRLCK, fcntl.F_OFD_SETLK)
        except (BlockingIOError, PermissionError):  # held elsewhere (EAGAIN or EACCES)
            return False
        return True

    def release(self) -> None:
        self._lock(fcntl.F_UNLCK, fcntl.F_OFD_SETLK)

    def __enter__(self) -> "RecordLock":
        self.acquire()
        return self

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


class GuardedTimer:
    """A worker's timer as the guard sees it (``value`` and ``get_lock``): its lock is waited
    for in short tries, and a worker found dead meanwhile has its timer swapped for a fresh one
    holding its last value (read without the lock), whose lock is taken instead.

    django-q2 1.11's guard runs ``with p.timer.get_lock(): if not p.is_alive(): reincarnate``
    for each worker, and a worker holds that lock at the end of every task, while it puts the
    result on the result queue: a worker killed there, before or while the guard waits, would
    stop the guard for good. A dead worker never touches its timer again, so the swap is safe;
    ``reincarnate`` reads its last value as it would have (0 says it was ended for its timeout).
    """

    TRY = 0.1  # seconds per try for the lock

    def __init__(self, process, timer):
        self._process, self._timer = process, timer

    @property
    def value(self) -> float:
        return self._timer.value

    @value.setter
    def value(self, value: float) -> None:
        self._timer.value = value

    @contextmanager
    def get_lock(self):
        lock = self._timer.get_lock()
        while not lock.acquire(timeout=self.TRY):
            if not self._process.is_alive():
                self._timer = django_q_cluster.get_mp_context().Value(
                    "f", self._timer.get_obj().value)
                lock = self._timer.get_lock()
        try:
            yield lock
        finally:
            lock.release()


class WorkerPool(list):
    """The sentinel's workers, each seen by the guard through a ``GuardedTimer``."""

    def __iter__(self):
        for process in super().__iter__():  # by index, as django-q2's loop changes the list
            if not isinstance(process.timer, GuardedTimer):
                process.timer = GuardedTimer(process, process.timer)
            yield process


class PipelineSentinel(django_q_cluster.Sentinel):
    """django-q2's sentinel, with the locks of the module's docstring made to survive their
    holder: the queues counted under record locks, the guard's pool handing dead workers'
    timers over, and the read lock's watchdog (not reincarnated: if it dies, the cluster runs as
    plain django-q2 does)."""

    def spawn_cluster(self):
        # Before the first fork, so every process of the cluster shares them. The file is
        # unlinked at once: it lives as long as a process of the cluster holds it open.
        # In memory where /dev/shm takes it: a network file system may not take these locks.
        try:
            self.lock_file = tempfile.TemporaryFile(dir="/dev/shm")
        except OSError:
            self.lock_file = tempfile.TemporaryFile()
        self.task_queue.size = QueueCounter(RecordLock(self.lock_file, 0))
        self.result_queue.size = QueueCounter(RecordLock(self.lock_file, 1))
        self.task_queue._wlock = RecordLock(self.lock_file, 2)  # the pusher's feeder thread
        self.result_queue._wlock = RecordLock(self.lock_file, 3)  # each worker's feeder thread
        super().spawn_cluster()
        self.watchdog = self.spawn_process(
            watch_read_locks, {"task": self.task_queue, "result": self.result_queue},
            self.stop_event)

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
