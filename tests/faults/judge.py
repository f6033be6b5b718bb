"""Running a fault test's queue to the end, counting what the fault did, judging the outcome."""

import json
import subprocess
import threading
import time
from collections import Counter
from contextlib import contextmanager
from pathlib import Path

from tests.fixtures.pipeline import items
from tests.fixtures.pipeline.site import PROJECT_DIR, PYTHON, PipelineSite

#: Job states nobody will move on from by themselves.
ENDED = ("done", "failed", "cancelled")


def drive(site: PipelineSite, *args: str, timeout: float = 120) -> dict:
    done = subprocess.run([PYTHON, "-m", "tests.faults.drive", *args], cwd=PROJECT_DIR,
                          env=site.env, capture_output=True, text=True, timeout=timeout,
                          check=False)
    if done.returncode:
        raise AssertionError(f"drive {' '.join(args)} failed:\n{done.stderr[-4000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def prepare(site: PipelineSite, *, tests: int, failing: int, models: int, sleep: float) -> int:
    """Items and their jobs (queued and delivered); returns how many jobs there are."""
    drive(site, "setup", "--tests", str(tests), "--failing", str(failing),
          "--models", str(models), "--sleep", str(sleep), "--log", str(site.log))
    total = drive(site, "submit")["jobs"]
    assert total == tests * models, f"{total} jobs submitted for {tests} × {models} pairs"
    return total


def running_jobs(server, database: str) -> int:
    """Jobs running now, read straight from the private server (no Django start-up)."""
    try:
        return server.sql("SELECT count(*) FROM runner_job WHERE state = 'running'", database)[0][0]
    except Exception:  # noqa: BLE001 — the server is coming back up: nothing is running yet
        return 0


class Reconciling:
    """The pipeline's periodic repair (``runner.tasks.reconcile``, every two minutes on a real
    site) every ``every`` seconds in a thread, for as long as the ``with`` block lasts. A pass
    that fails (its server is down) is counted and the next one tries again."""

    def __init__(self, site: PipelineSite, every: float = 2.0):
        self.site, self.every = site, every
        self.passes = self.failed_passes = 0
        self.last_failure = ""
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def _loop(self) -> None:
        while not self._stop.wait(self.every):
            try:
                drive(self.site, "reconcile")
                self.passes += 1
            except (AssertionError, subprocess.TimeoutExpired) as exc:
                self.failed_passes += 1
                self.last_failure = str(exc)[-1500:]

    def __str__(self) -> str:
        return (f"reconcile: {self.passes} passes, {self.failed_passes} failed"
                + (f"; the last failure: {self.last_failure}" if self.last_failure else ""))

    def __enter__(self) -> "Reconciling":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(timeout=150)


@contextmanager
def queue_running(site: PipelineSite, node: str = "alpha"):
    """A qcluster working through the site's queue, reconcile beside it; both stopped after."""
    try:
        site.start_cluster(node)
        with Reconciling(site) as repair:
            yield repair
    finally:
        site.stop_all()


def job_states(server, database: str) -> str:
    """Job states and attempts, straight from the private server: what a stalled wait says."""
    try:
        rows = server.sql("SELECT state, attempts, count(*) FROM runner_job "
                          "GROUP BY state, attempts ORDER BY 1, 2", database)
    except Exception as exc:  # noqa: BLE001
        return f"(jobs unreadable: {exc})"
    return "; ".join(f"{n} {state} at attempt {attempts}" for state, attempts, n in rows)


def unfinished_jobs(server, database: str) -> int:
    try:
        return server.sql("SELECT count(*) FROM runner_job WHERE state IN ('queued', 'running')",
                          database)[0][0]
    except Exception:  # noqa: BLE001 — the server is coming back up: the jobs are still there
        return 1


def cluster_processes(site: PipelineSite) -> str:
    """Each live process of the site's clusters (their sessions): pid, parent, state, where in
    the kernel it waits, and its title (django-q2 titles a worker "idle" or "processing ...").
    What a stall needs: which part of the cluster stopped, and on what."""
    sessions = {process.pid for process in site.clusters if process.poll() is None}
    lines = []
    for proc in sorted(Path("/proc").glob("[0-9]*"), key=lambda path: int(path.name)):
        try:
            fields = (proc / "stat").read_text().rsplit(")", 1)[1].split()
            if int(fields[3]) not in sessions:  # the session id, after state, ppid and pgrp
                continue
            wchan = (proc / "wchan").read_text() or "-"
            title = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except (OSError, IndexError, ValueError):
            continue  # gone meanwhile
        lines.append(f"{proc.name} (parent {fields[1]}) {fields[0]} {wchan}: {title.strip()[:120]}")
    return "\n".join(lines) or "(no cluster process alive)"


def wait_or_explain(site: PipelineSite, server, repair: "Reconciling", predicate, what: str,
                    timeout: float = 120):
    """``site.wait_for`` every 50 ms; a stall fails with the job states, reconcile's tally and
    the cluster's processes, and so does a queue that ended first (it was too short for the
    faults asked)."""
    def answer():
        if value := predicate():
            return value
        if not unfinished_jobs(server, site.database_name):
            raise AssertionError(f"the queue ended before {what}: make it longer")
        return None

    try:
        return site.wait_for(answer, timeout=timeout, every=0.05, what=what)
    except AssertionError as exc:
        raise AssertionError(f"{exc}\njobs: {job_states(server, site.database_name)}\n"
                             f"{repair}\nprocesses:\n{cluster_processes(site)}") from None


def run_to_the_end(site: PipelineSite, total: int, *, seconds: float) -> dict:
    """Wait until every job has ended (reconcile running beside: ``Reconciling``); the last
    report. Running jobs whose worker died come back through their lease."""
    deadline = time.monotonic() + seconds
    while True:
        report = drive(site, "report")
        if sum(report["states"][s] for s in ENDED) == total:
            return report
        if time.monotonic() > deadline:
            raise AssertionError(f"after {seconds} s, jobs not ended: {report['states']}\n"
                                 f"{site.cluster_output()}")
        time.sleep(1)


def tally(site: PipelineSite, report: dict, *, faults: int, fault: str, passing_pairs: int,
          failing_pairs: int) -> dict:
    """The counts a fault test prints and records: what was done to the queue, what it left."""
    jobs = report["jobs"]
    outcomes = report["outcomes"]
    pair = {f"{j['runner_kim_id']} {j['subject_kim_id']}": j for j in jobs}
    starts = items.executions(Path(site.log), "start")
    counts = {
        "fault": fault, "faults": faults, "jobs": len(jobs),
        "results": len(report["result_rows"]), "errors": len(report["error_rows"]),
        "lost": sum(1 for key, job in pair.items()
                    if job["state"] != "done" or not outcomes.get(key)),
        "doubled": sum(1 for kim_ids in outcomes.values() if len(kim_ids) > 1),
        "stuck": sum(1 for j in jobs if j["state"] not in ENDED),
        "runs_started": len(starts), "runs_again": len(starts) - len(set(starts)),
        "attempts": sum(j["attempts"] for j in jobs),
        "folders_without_row": len(set(report["result_folders"]) - set(report["result_rows"]))
                               + len(set(report["error_folders"]) - set(report["error_rows"])),
        "rows_without_folder": len(set(report["result_rows"]) - set(report["result_folders"]))
                               + len(set(report["error_rows"]) - set(report["error_folders"])),
        "staging_leftovers": len(report["staging_leftovers"]),
        "incomplete_folders": len(report["incomplete_folders"]),
        "expected_results": passing_pairs, "expected_errors": failing_pairs,
    }
    print(f"\n{fault}: {json.dumps(counts)}")
    log = PROJECT_DIR / "var" / "test-artifacts" / "faults.jsonl"
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "a") as handle:
        handle.write(json.dumps({**counts, "at": time.strftime("%Y-%m-%dT%H:%M:%SZ",
                                                               time.gmtime())}) + "\n")
    return counts


def assert_each_job_ended_once(counts: dict, report: dict) -> None:
    """Every job one outcome: the passing tests' a result, the failing tests' a nonzero-exit
    Error; none lost, none doubled, none left running; every row with its folder."""
    failures = {j["pk"]: j["last_error"] for j in report["jobs"] if j["state"] != "done"}
    assert counts["lost"] == 0, f"{counts}: jobs without an outcome: {failures}"
    assert counts["doubled"] == 0, f"{counts}: pairs with two outcomes: " + str(
        {k: v for k, v in report["outcomes"].items() if len(v) > 1})
    assert counts["stuck"] == 0, counts
    assert counts["results"] == counts["expected_results"], counts
    assert counts["errors"] == counts["expected_errors"], counts
    assert Counter(report["error_categories"]) == Counter(
        {"nonzero-exit": counts["expected_errors"]} if counts["expected_errors"] else {}), \
        f"an error other than the failing tests' own: {Counter(report['error_categories'])}"
    assert counts["folders_without_row"] == counts["rows_without_folder"] == 0, counts
    assert report["incomplete_folders"] == [], f"half-written: {report['incomplete_folders']}"
