"""What joining a run's pids cgroup costs a run's start, spaced as jobs are and back to back.

Every sandboxed run starts through the launcher (``runner/launch.c``), which moves itself into
the run's own pids cgroup (``Sandbox.prepare``; what enforces RUNNER_PROCESS_LIMIT) before it
becomes bwrap. On cgroup v1 the kernel takes a global lock for the move whose writer side
waits for an RCU grace period unless another move happened within the last grace period: back
to back a move costs about 0.5 ms, but one move every few tens of milliseconds (a worker's
jobs) pays the whole grace period each time (11-15 ms measured here, 2026-12-07). The
kernel's ``favordynmods`` (boot parameter ``cgroup_favordynmods=true``, or a cgroup hierarchy
mounted with ``-o favordynmods``) keeps the lock ready for writers, and the move costs the
same either way. docs/BENCHMARKS.md has the figures.

Run: ``.venv/bin/python bench/bench_cgroup_join.py [--runs 30] [--gap-ms 40]``. Each round
starts ``/bin/true`` through the launcher with the run's pids cgroup joined and, the baseline
in the same run, with none (the same launcher, the same limits); spaced by ``--gap-ms`` of
sleep, then back to back. Where no pids cgroup is writable (not root, cgroup v2) runs are
limited by RLIMIT_NPROC instead, and there is nothing to measure: it says so.
"""

import argparse
import os
import shutil
import statistics
import subprocess
import time
from pathlib import Path

from benchsetup import scratch_folder, setup_django


def launch_time(scratch: Path, joined: bool) -> float:
    """Seconds from the launcher's start to ``/bin/true``'s end, a run's cgroup joined or not."""
    from runner import sandbox

    box = sandbox.Sandbox(scratch=scratch)
    if joined:
        box.prepare()
    try:
        prefix = box.launcher(os.getpid())
        if prefix is None:
            raise SystemExit("no C compiler: the launcher cannot be built")
        started = time.perf_counter()
        subprocess.run([*prefix, "/bin/true"], check=True)
        return time.perf_counter() - started
    finally:
        box.release()


def favoured() -> str:
    """Where this machine says favordynmods is on, if it says so anywhere."""
    found = []
    if "cgroup_favordynmods=" in Path("/proc/cmdline").read_text():
        found.append("the kernel's command line")
    with open("/proc/mounts") as mounts:
        found += [line.split()[1] for line in mounts if "favordynmods" in line]
    return ", ".join(found) or "nowhere (it can still be on: once on, the kernel keeps it on)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=30, help="rounds per spacing")
    parser.add_argument("--gap-ms", type=float, default=40, help="the spacing of a worker's jobs")
    args = parser.parse_args()
    scratch = scratch_folder("bench-cgroup-")
    try:
        setup_django(scratch)
        from runner import sandbox

        probe = sandbox.Sandbox(scratch=scratch)
        probe.prepare()
        probe.release()
        if probe.cgroup is None:
            print(f"no writable pids cgroup at {sandbox.PIDS_CGROUP}: runs are limited by "
                  "RLIMIT_NPROC here, there is no join to measure")
            print("ratio joined/not joined: not measured")
            return
        print(f"favordynmods said on: {favoured()}")
        ratios = []
        for label, gap in ((f"spaced {args.gap_ms:g} ms", args.gap_ms / 1000), ("back to back", 0)):
            times = {True: [], False: []}
            for _ in range(args.runs):
                for joined in (True, False):
                    time.sleep(gap)
                    times[joined].append(launch_time(scratch, joined))
            joined_ms = statistics.median(times[True]) * 1000
            alone_ms = statistics.median(times[False]) * 1000
            ratios.append(f"{label} {joined_ms / alone_ms:.2f}")
            print(f"{label:>14}: launch with the cgroup joined {joined_ms:.2f} ms, without "
                  f"{alone_ms:.2f} ms (medians of {args.runs}); the join {joined_ms - alone_ms:+.2f} ms")
        print("ratio joined/not joined: " + ", ".join(ratios))
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
