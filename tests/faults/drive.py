"""Drives a fault test's pipeline site from outside: make items, submit, reconcile, report.

Run as ``python -m tests.faults.drive COMMAND`` with the site's environment (PipelineSite.env).
Prints one JSON object. ``report`` is the ground truth the fault tests judge: the Job rows,
every outcome row per pair, and the outcome folders on disk beside the rows.
"""

import argparse
import json
import sys
from pathlib import Path


def setup(tests: int, failing: int, models: int, sleep: float, log: Path | None) -> dict:
    from repository import storage
    from tests.fixtures.pipeline import items

    items.ar_models(models)
    root = storage.repository_root()
    # The failing ones exit 3: each of their pairs must end as one nonzero-exit Error.
    made = [items.make_test(root, f"Fault{i}_Ar", 700 + i, sleep=sleep, log=log,
                            fail=i >= tests - failing)
            for i in range(tests)]
    return {"tests": [t.kim_id for t in made]}


def submit() -> dict:
    from repository.models import Test
    from runner import director

    made = []
    for test in Test.objects.order_by("number"):
        made += director.on_item_changed(test).jobs
    return {"jobs": len(made)}


def reconcile() -> dict:
    from runner import reconcile as repair

    report = repair.reconcile()
    return {"requeued": report.requeued, "failed": report.failed,
            "redispatched": report.redispatched, "adopted": report.adopted}


def outcome_folders(leader: str) -> tuple[list[str], list[str]]:
    """(published folder names, staging leftovers) under the repository's ``leader`` folder."""
    from repository import storage

    top = storage.repository_root() / leader.lower()
    names = sorted(p.name for p in top.iterdir()) if top.is_dir() else []
    return ([n for n in names if not n.startswith(".")],
            [n for n in names if n.startswith(".")])


#: What every published outcome folder holds (runner.results): one missing is a half-written folder.
REQUIRED_FILES = {"TR": ("results.edn", "kimspec.edn", "pipelinespec.edn"),
                  "ER": ("pipeline.exception", "kimspec.edn", "pipelinespec.edn")}


def incomplete_folders(leader: str, names: list[str]) -> list[str]:
    from repository import storage

    top = storage.repository_root() / leader.lower()
    return [name for name in names
            if not all((top / name / f).is_file() for f in REQUIRED_FILES[leader])]


def report() -> dict:
    from repository.models import Error, TestResult
    from runner.models import Job

    jobs = list(Job.objects.values("pk", "runner_kim_id", "subject_kim_id", "state", "attempts",
                                   "lease_owner", "outcome_kim_id", "last_error"))
    outcomes: dict[str, list[str]] = {}
    for table in TestResult.objects, Error.objects:
        for kim_id, test, model in table.values_list("kim_id", "test__kim_id", "model__kim_id"):
            outcomes.setdefault(f"{test} {model}", []).append(kim_id)
    tr_folders, tr_staging = outcome_folders("TR")
    er_folders, er_staging = outcome_folders("ER")
    return {
        "jobs": jobs,
        "states": {s: sum(1 for j in jobs if j["state"] == s) for s in Job.State.values},
        "outcomes": outcomes,
        "result_rows": sorted(TestResult.objects.values_list("kim_id", flat=True)),
        "error_rows": sorted(Error.objects.values_list("kim_id", flat=True)),
        "error_categories": sorted(Error.objects.values_list("category", flat=True)),
        "result_folders": tr_folders, "error_folders": er_folders,
        "staging_leftovers": tr_staging + er_staging,
        "incomplete_folders": incomplete_folders("TR", tr_folders)
                              + incomplete_folders("ER", er_folders),
    }


def main(argv: list[str]) -> dict:
    import django

    django.setup()
    parser = argparse.ArgumentParser()
    parser.add_argument("command", choices=["setup", "submit", "reconcile", "report"])
    parser.add_argument("--tests", type=int, default=2)
    parser.add_argument("--failing", type=int, default=0)
    parser.add_argument("--models", type=int, default=4)
    parser.add_argument("--sleep", type=float, default=0)
    parser.add_argument("--log", type=Path)
    args = parser.parse_args(argv)
    if args.command == "setup":
        return setup(args.tests, args.failing, args.models, args.sleep, args.log)
    return {"submit": submit, "reconcile": reconcile, "report": report}[args.command]()


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1:]), default=str))
