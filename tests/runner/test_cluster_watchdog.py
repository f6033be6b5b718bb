"""The task queue's read lock, held by a worker that died while it waited for a task
(runner.cluster): on a real multiprocessing queue of django-q2's, then in a real qcluster."""

import multiprocessing
import os
import queue
import signal
import tempfile
import threading
import time
from pathlib import Path

import pytest
from django_q.queues import Queue

from runner import cluster
from tests.runner.test_process_lifetime_cluster import wait_until

FORK = multiprocessing.get_context("fork")


def reader_killed_while_waiting(tasks: Queue) -> None:
    """A process blocked in ``get`` (holding the read lock, as an idle worker does), SIGKILLed."""
    reader = FORK.Process(target=tasks.get, daemon=True)
    reader.start()
    wait_until(lambda: cluster.lock_is_held(tasks._rlock), 10, "the reader to take the lock")
    os.kill(reader.pid, signal.SIGKILL)
    reader.join()


def test_a_reader_killed_while_it_waited_leaves_the_queue_unreadable_until_the_watchdog_frees_it():
    tasks = Queue(maxsize=2)
    reader_killed_while_waiting(tasks)
    tasks.put("task")
    with pytest.raises(queue.Empty):  # the dead reader's lock: nobody can take the task
        tasks.get(timeout=1.5)

    stop = FORK.Event()
    watchdog = FORK.Process(target=cluster.watch_read_locks, args=({"task": tasks}, stop, 0.5), daemon=True)
    watchdog.start()
    try:
        assert tasks.get(timeout=10) == "task"
        assert not cluster.lock_is_held(tasks._rlock)
    finally:
        stop.set()
        watchdog.join(timeout=5)
    assert watchdog.exitcode == 0, "the watchdog ends when the cluster stops"


def test_a_count_of_waiting_tasks_left_too_high_does_not_make_a_live_readers_lock_orphaned():
    """django-q2's own counter (qsize) is not what waits: a worker killed between reading a task
    and counting it leaves it one too high for good."""
    tasks = Queue(maxsize=2)
    tasks.size.increment(1)
    got = FORK.Queue()
    reader = FORK.Process(target=lambda: got.put(tasks.get()), daemon=True)
    reader.start()
    wait_until(lambda: cluster.lock_is_held(tasks._rlock), 10, "the reader to take the lock")
    assert tasks.qsize() == 1
    assert cluster.orphaned(tasks, 0.0, 0.5, now=100.0) == (False, None)
    tasks.put("task")
    assert got.get(timeout=10) == "task"
    reader.join(timeout=5)


def test_the_watchdog_leaves_a_live_reader_its_lock():
    tasks = Queue(maxsize=2)
    got = FORK.Queue()
    reader = FORK.Process(target=lambda: got.put(tasks.get()), daemon=True)
    reader.start()
    wait_until(lambda: cluster.lock_is_held(tasks._rlock), 10, "the reader to take the lock")
    stop = FORK.Event()
    watchdog = FORK.Process(target=cluster.watch_read_locks, args=({"task": tasks}, stop, 0.3), daemon=True)
    watchdog.start()
    try:
        time.sleep(1.5)  # five times its patience: no task waits, so the lock is the reader's
        assert cluster.lock_is_held(tasks._rlock)
        tasks.put("task")
        assert got.get(timeout=10) == "task"
        reader.join(timeout=5)
        assert not cluster.lock_is_held(tasks._rlock)
    finally:
        stop.set()
        watchdog.join(timeout=5)


class Waiting:
    """A stand-in queue with ``count`` tasks in its pipe and a read lock taken or free."""

    def __init__(self, count: int, held: bool):
        self.count = count
        self._rlock = FORK.Lock()
        if held:
            self._rlock.acquire()
        self._reader = self

    def poll(self, timeout: float) -> bool:
        return self.count > 0


@pytest.mark.parametrize(("count", "held"), [(0, True), (2, False), (0, False)])
def test_a_lock_is_orphaned_only_while_held_with_a_task_waiting(count, held):
    assert cluster.orphaned(Waiting(count, held), None, 1.0, now=100.0) == (False, None)


def test_an_orphaned_lock_is_released_after_the_patience_only():
    stuck = Waiting(1, held=True)
    assert cluster.orphaned(stuck, None, 5.0, now=100.0) == (False, 100.0)
    assert cluster.orphaned(stuck, 100.0, 5.0, now=104.9) == (False, 100.0)
    assert cluster.orphaned(stuck, 100.0, 5.0, now=105.0) == (True, 100.0)
    stuck.count = 0  # read meanwhile: the count starts again
    assert cluster.orphaned(stuck, 100.0, 5.0, now=106.0) == (False, None)


def hold_and_wait(lock, holding) -> None:
    lock.acquire()
    holding.set()
    time.sleep(60)


def count_up(counter: cluster.QueueCounter, times: int) -> None:
    for _ in range(times):
        counter.increment(1)


def test_a_queue_counter_loses_no_count_between_processes_and_outlives_a_holder_killed():
    with tempfile.TemporaryFile() as lock_file:
        counter = cluster.QueueCounter(cluster.RecordLock(lock_file, 0))
        counters = [FORK.Process(target=count_up, args=(counter, 2000)) for _ in range(4)]
        for process in counters:
            process.start()
        for process in counters:
            process.join(timeout=60)
        assert counter.value == 8000

        holding = FORK.Event()
        holder = FORK.Process(target=hold_and_wait, args=(counter.lock, holding), daemon=True)
        holder.start()
        assert holding.wait(10), "the holder took the lock"
        assert not counter.lock.acquire(blocking=False), "held by the holder"
        os.kill(holder.pid, signal.SIGKILL)
        holder.join()
        assert counter.lock.acquire(blocking=False), "given back by the kernel at the death"
        counter.lock.release()
        counter.increment(-1)
        assert counter.value == 7999


def test_the_guard_waiting_for_a_workers_timer_takes_it_over_when_the_worker_dies():
    """The guard already waits for the timer's lock when its holder is SIGKILLed."""
    timer = FORK.Value("f", 7.0)
    holding = FORK.Event()
    worker = FORK.Process(target=hold_and_wait, args=(timer.get_lock(), holding), daemon=True)
    worker.start()
    assert holding.wait(10), "the worker took its timer's lock"
    killer = threading.Timer(0.5, os.kill, (worker.pid, signal.SIGKILL))
    killer.start()
    guarded = cluster.GuardedTimer(worker, timer)
    seen = []

    def guard_once():
        with guarded.get_lock():
            seen.append(guarded.value)
            guarded.value = -1

    # In a thread, so that a timer waited for as plainly as django-q2's fails here, not hangs.
    guard = threading.Thread(target=guard_once, daemon=True)
    started = time.monotonic()
    guard.start()
    guard.join(timeout=10)
    assert not guard.is_alive(), "the guard still waits for a dead worker's timer"
    assert time.monotonic() - started >= 0.5, "taken before the worker died"
    assert seen == [7.0], "the dead worker's last value"
    assert guarded.value == -1
    killer.join()


def wchan(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/wchan").read_text()
    except OSError:
        return ""


@pytest.mark.slow
def test_workers_sigkilled_while_idle_leave_a_cluster_that_takes_tasks(tmp_path):
    """Both idle workers of a real qcluster SIGKILLed (one of them held the lock), then jobs."""
    site, log = site_with_four_jobs(tmp_path)
    try:
        site.start_cluster("idle")

        def idle_workers():
            pids = [int(line.rsplit(" ", 1)[1]) for line in log.read_text().splitlines()
                    if "ready for work at" in line] if log.exists() else []
            # One waits in the pipe's read holding the lock, the other waits for the lock (a
            # futex). A pipe read alone is not enough: django-q2 logs "ready" before post_spawn,
            # whose warm-server Popen reads a pipe too. Seen the same way five times running.
            for _ in range(5):
                waits = [wchan(pid) for pid in pids]
                if len(pids) != 2 or not (any("pipe_read" in wait for wait in waits)
                                          and any("futex" in wait for wait in waits)):
                    return None
                time.sleep(0.05)
            return pids

        workers = site.wait_for(idle_workers, timeout=60, every=0.1, what="two idle workers")
        for pid in workers:
            os.kill(pid, signal.SIGKILL)
        site.scenario("submit")

        def everything_done():
            report = site.scenario("report")
            return report if report["states"]["done"] == 4 else None

        report = site.wait_for(everything_done, timeout=60, every=1, what="every job done")
    finally:
        site.stop_all()
    assert set(report["results_per_pair"].values()) == {1}
    assert "a worker died holding it; released" in log.read_text()


def site_with_four_jobs(tmp_path, **options):
    """A migrated site with 1 test × 4 models to submit, a 1 s lock patience, and its log."""
    from tests.fixtures.pipeline.site import PipelineSite

    site = PipelineSite(tmp_path, **options)
    site.env["PIPELINE_QUEUE_LOCK_PATIENCE"] = "1"
    site.manage("migrate", "--noinput")
    site.scenario("setup", "--tests", "1", "--models", "4", "--log", str(site.log))
    return site, Path(site.env["KIM_LOG_DIR"]) / "pipeline.log"


def unacknowledged_jobs(site) -> int:
    """Job deliveries still in the site's ORM broker: the monitor acknowledges each result."""
    printed = site.manage("shell", "-c", "from django_q.models import OrmQ; print(sum("
                          "q.func() == 'runner.tasks.run_job' for q in OrmQ.objects.all()))")
    return int(printed.split()[-1])  # the shell says first what it imported


def deliver_dying_task(site, lock: str) -> None:
    """One ``die_holding(lock)`` task on the site's queue (the broker a running cluster reads)."""
    site.manage("shell", "-c", "from django_q.tasks import async_task; async_task("
                f"'tests.fixtures.pipeline.dying.die_holding', {lock!r}, task_name='dying')")


@pytest.mark.slow
@pytest.mark.parametrize("lock", ["timer", "task counter", "result counter",
                                  "result write lock"])
def test_workers_sigkilled_holding_a_shared_lock_leave_a_cluster_that_takes_tasks(tmp_path, lock):
    """Both workers of a real qcluster SIGKILLed, one after the other, each while it holds
    ``lock`` (tests/fixtures/pipeline/dying.py); then jobs. A lock no live process will give
    back must not stop the guard from starting new workers, nor them from taking tasks, nor
    their results from reaching the monitor (which acknowledges each delivery to the broker)."""
    # A dying task is never acknowledged (its worker dies): with the fixture's 10 s retry the
    # broker would hand it out again, and it would kill a third worker.
    site, log = site_with_four_jobs(tmp_path, retry=600)

    def deaths() -> int:
        return log.read_text().count("after death") if log.exists() else 0

    try:
        site.start_cluster("dying")
        for _ in range(2):
            deliver_dying_task(site, lock)
            time.sleep(1)  # one task per worker: the second goes to the other (or the new) one
        site.scenario("submit")

        def everything_done():
            report = site.scenario("report")
            return report if report["states"]["done"] == 4 else None

        report = site.wait_for(everything_done, timeout=60, every=1,
                               what=f"every job done after workers died holding the {lock} lock")
        site.wait_for(lambda: unacknowledged_jobs(site) == 0, timeout=30, every=1,
                      what="django-q2's monitor to acknowledge the 4 job deliveries")
    finally:
        site.stop_all()
    assert set(report["results_per_pair"].values()) == {1}
    assert deaths() == 2, log.read_text()[-3000:]


@pytest.mark.slow
def test_a_monitor_sigkilled_while_it_waits_leaves_a_cluster_whose_results_are_acknowledged(
        tmp_path):
    """The monitor holds the result queue's read lock whenever it waits for a result: killed
    there, the monitor django-q2 starts in its place would wait for that lock for ever, and no
    delivery would be acknowledged again (the ORM broker would hand each out again)."""
    site, log = site_with_four_jobs(tmp_path, retry=600)

    def waiting_monitor():
        pids = [int(line.rsplit(" ", 1)[1]) for line in log.read_text().splitlines()
                if "monitoring at" in line] if log.exists() else []
        return pids[0] if len(pids) == 1 and "pipe_read" in wchan(pids[0]) else None

    try:
        site.start_cluster("monitor")
        os.kill(site.wait_for(waiting_monitor, timeout=60, every=0.1, what="a waiting monitor"),
                signal.SIGKILL)
        site.wait_for(lambda: "reincarnated monitor" in log.read_text(), timeout=30, every=0.2,
                      what="a new monitor")
        site.scenario("submit")
        site.wait_for(lambda: site.scenario("report")["states"]["done"] == 4, timeout=60,
                      every=1, what="every job done")
        site.wait_for(lambda: unacknowledged_jobs(site) == 0, timeout=30, every=1,
                      what="the new monitor to acknowledge the 4 job deliveries")
    finally:
        site.stop_all()
    assert "the monitor died holding it; released" in log.read_text()
