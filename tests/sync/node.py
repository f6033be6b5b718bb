"""One step of a pipeline node, run in a subprocess with that node's environment.

``python -m tests.sync.node models ID …``: register the installed KIM API items and keep only
these models (a small fan-out). ``python -m tests.sync.node report``: jobs, outcomes and
publications as one JSON line.
"""

import json
import sys

import django


def keep_models(kim_ids: list[str]) -> dict:
    from repository.installed import register_installed_items
    from repository.models import Model

    register_installed_items()
    Model.objects.exclude(kim_id__in=kim_ids).delete()
    return {"models": sorted(Model.objects.values_list("kim_id", flat=True))}


def report() -> dict:
    from repository.models import Error, TestResult
    from runner.models import Job, Publication

    return {
        "jobs": list(Job.objects.values("runner_kim_id", "subject_kim_id", "state", "outcome_kim_id",
                                        "lease_owner", "last_error")),
        "results": sorted(TestResult.objects.values_list("kim_id", flat=True)),
        "errors": [f"{e.kim_id} {e.category}: {e.message}" for e in Error.objects.all()],
        "publications": list(Publication.objects.values("outcome_kim_id", "node", "state", "area",
                                                        "attempts", "last_error")),
    }


if __name__ == "__main__":
    django.setup()
    step, args = sys.argv[1], sys.argv[2:]
    answer = keep_models(args) if step == "models" else report()
    print(json.dumps(answer, default=str))
