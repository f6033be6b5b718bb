"""The example repository's ten verification checks over the installed portable models: each
check's time per model, the grades, and the ratio to a floor measured in the same run.

Run: ``.venv/bin/python bench/bench_checks.py [--models N | --all] [--match TEXT] [--workers W]``.
Each check runs as a plain process (its runner, in a fresh folder, with the input its template
renders: the checks' tools folder and the model name), as the pipeline runs it. The floor is a
process that imports what every check imports (ASE, kimpy, kim_tools' vc and ase helpers) and
creates the model (ASE's calculator and a bare kimpy object):
what a check costs before it computes anything. Prints a model × check table of grades, each
check's mean and largest wall and CPU seconds, and the ratio checks/floor.
"""

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from benchsetup import bench_root

PROJECT = Path(__file__).resolve().parent.parent
EXAMPLES = PROJECT / "examples" / "repository"
TOOLS = next((EXAMPLES / "td").glob("VerificationCheckTools__TD_*"))
CHECKS = {path.name.split("__")[0]: path for path in sorted((EXAMPLES / "vc").iterdir())}
FLOOR = """
import sys
sys.path.insert(0, sys.argv[1])
import vcconfigs, vcharness
vcharness.kim_tools_part("vc"), vcharness.kim_tools_part("ase")
vcconfigs.calculator(sys.argv[2])
vcconfigs.BareModel(sys.argv[2])
"""


def portable_models() -> list[str]:
    import kimpy

    collections = kimpy.collections.create()
    kind = kimpy.collection_item_type.portableModel
    count = collections.cache_list_of_item_names_by_type(kind)
    return sorted(collections.get_item_name_by_type(i) for i in range(count))


def timed(command, cwd: Path, stdin: str = "") -> tuple[float, float, int]:
    """(wall seconds, CPU seconds of the child, exit status)."""
    started = time.perf_counter()
    process = subprocess.Popen(command, cwd=cwd, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL, text=True)
    process.stdin.write(stdin)
    process.stdin.close()
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    return time.perf_counter() - started, usage.ru_utime + usage.ru_stime, process.returncode


def run_check(check: str, model: str, scratch: Path) -> dict:
    import kim_edn

    folder = Path(tempfile.mkdtemp(dir=scratch))
    shutil.copytree(CHECKS[check], folder, dirs_exist_ok=True)
    wall, cpu, status = timed([sys.executable, str(folder / "runner")], folder,
                              f"{TOOLS}\n{model}\n")
    results = folder / "output" / "results.edn"
    grade = "Error"
    if status == 0 and results.is_file():
        grade = kim_edn.load(str(results))[0]["vc-grade"]["source-value"]
    shutil.rmtree(folder, ignore_errors=True)
    return {"check": check, "model": model, "wall": wall, "cpu": cpu, "grade": grade}


def floor(model: str, scratch: Path) -> dict:
    wall, cpu, status = timed([sys.executable, "-c", FLOOR, str(TOOLS), model], scratch)
    if status != 0:
        raise SystemExit(f"the floor process failed for {model} (status {status})")
    return {"wall": wall, "cpu": cpu}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=int, default=12, help="the first N portable models")
    parser.add_argument("--all", action="store_true", help="every installed portable model")
    parser.add_argument("--match", default="", help="only models whose name contains this")
    parser.add_argument("--model", action="append", default=[], help="these models (repeatable)")
    parser.add_argument("--workers", type=int, default=1, help="checks run at once")
    args = parser.parse_args()
    models = args.model or [m for m in portable_models() if args.match in m]
    if not (args.all or args.model):
        models = models[:args.models]
    with tempfile.TemporaryDirectory(prefix="bench-checks-", dir=bench_root()) as scratch_name:
        scratch = Path(scratch_name)
        os.environ["KIM_API_LOG_VERBOSITY"] = "silent"
        floors = [floor(model, scratch) for model in models]
        pairs = [(check, model) for model in models for check in CHECKS]
        started = time.perf_counter()
        with ThreadPoolExecutor(max_workers=args.workers) as pool:
            runs = list(pool.map(lambda pair: run_check(*pair, scratch), pairs))
        elapsed = time.perf_counter() - started
    grades = {(r["model"], r["check"]): r["grade"] for r in runs}
    print("model | " + " | ".join(CHECKS))
    for model in models:
        print(f"{model} | " + " | ".join(grades[model, check] for check in CHECKS))
    print(f"\n{'check':26} {'mean wall':>9} {'max wall':>9} {'mean cpu':>9} {'max cpu':>8}")
    for check in CHECKS:
        mine = [r for r in runs if r["check"] == check]
        print(f"{check:26} {statistics.mean(r['wall'] for r in mine):9.2f} "
              f"{max(r['wall'] for r in mine):9.2f} {statistics.mean(r['cpu'] for r in mine):9.2f} "
              f"{max(r['cpu'] for r in mine):8.2f}")
    per_model_cpu = [sum(r["cpu"] for r in runs if r["model"] == m) for m in models]
    per_model_wall = [sum(r["wall"] for r in runs if r["model"] == m) for m in models]
    floor_cpu = statistics.mean(f["cpu"] for f in floors)
    errors = sum(1 for r in runs if r["grade"] == "Error")
    print(f"\n{len(models)} models x {len(CHECKS)} checks in {elapsed:.1f} s with {args.workers} "
          f"workers; {errors} errors")
    print(f"ten checks on one model: mean {statistics.mean(per_model_wall):.1f} s wall, "
          f"{statistics.mean(per_model_cpu):.1f} s CPU; largest {max(per_model_wall):.1f} s wall")
    print(f"floor (imports + one model object): {floor_cpu:.2f} s CPU a process")
    print(f"ratio checks/floor (CPU of one check over the floor): "
          f"{statistics.mean(per_model_cpu) / len(CHECKS) / floor_cpu:.2f}")


if __name__ == "__main__":
    main()
