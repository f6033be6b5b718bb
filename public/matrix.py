"""The results matrix: one page of tests × one page of models, each cell the pair's state.

A cell is the pair's live job when it has one (running, queued, waiting), else its latest
outcome: a result, an error by category, stale, or outdated (a newer version of the test or
the model has not run yet). A fixed number of queries per page, whatever the table sizes.
"""

from dataclasses import dataclass

from repository.models import Error, TestResult
from runner.models import Job

#: A cell's letter for a pair with a live job (a result's is R).
JOB_LABELS = {"running": "▶", "queued": "Q", "waiting": "W"}


@dataclass
class Cell:
    state: str  # result, error, stale, outdated, running, queued, waiting, none
    label: str = ""
    url: str | None = None
    title: str = ""


def _latest_outcomes(tests, models) -> dict[tuple[str, str], object]:
    test_numbers, model_numbers = [t.number for t in tests], [m.number for m in models]
    found = {}
    for table in (TestResult.objects.all(), Error.objects.filter(test__isnull=False)):
        rows = (table.filter(runner_number__in=test_numbers, subject_number__in=model_numbers)
                .latest_per_pair().only("kim_id", "runner_number", "runner_version",
                                        "subject_number", "subject_version", "stale",
                                        "created_at", *(["category"] if table.model is Error else [])))
        for row in rows:
            key = (row.runner_number, row.subject_number)
            known = found.get(key)
            order = (row.runner_version, row.subject_version, row.created_at)
            if known is None or order > (known.runner_version, known.subject_version, known.created_at):
                found[key] = row
    return found


def _live_jobs(tests, models) -> dict[tuple[str, str], str]:
    jobs = Job.objects.filter(runner_kim_id__in=[t.kim_id for t in tests],
                              subject_kim_id__in=[m.kim_id for m in models],
                              state__in=Job.ACTIVE_STATES).values_list(
        "runner_kim_id", "subject_kim_id", "state")
    return {(runner, subject): state for runner, subject, state in jobs}


def cell_of(test, model, outcome, job_state) -> Cell:
    if job_state:
        return Cell(job_state, JOB_LABELS.get(job_state, "?"), None, f"job {job_state}")
    if outcome is None:
        return Cell("none", "", None, "not run")
    url = f"/id/{outcome.kim_id}"
    if (outcome.runner_version, outcome.subject_version) != (test.version, model.version):
        return Cell("outdated", "o", url, f"{outcome.kim_id}: of an older version")
    if outcome.stale:
        return Cell("stale", "s", url, f"{outcome.kim_id}: stale, to be re-run")
    if isinstance(outcome, Error):
        return Cell(f"error error-{outcome.category}", "E", url,
                    f"{outcome.kim_id}: error ({outcome.category})")
    return Cell("result", "R", url, outcome.kim_id)


def grid(tests, models) -> list[tuple[object, list[Cell]]]:
    """[(test, [cell per model]), …] for the given (latest-version) tests and models."""
    tests, models = list(tests), list(models)
    if not tests or not models:
        return [(t, []) for t in tests]
    outcomes, jobs = _latest_outcomes(tests, models), _live_jobs(tests, models)
    return [(t, [cell_of(t, m, outcomes.get((t.number, m.number)),
                         jobs.get((t.kim_id, m.kim_id))) for m in models]) for t in tests]
