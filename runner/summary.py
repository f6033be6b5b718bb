"""Outcomes read back as plain data: one kept outcome (runpair, showresult), the pairs of an
item with their partners (matches)."""

from repository.models import Error, Model, TestResult, VerificationResult
from repository.models.current import outcome_tables
from runner.models import Job


def outcome_summary(outcome) -> dict:
    """A kept result or error as plain data: what ran, how it went, its values and provenance."""
    kind = {"TR": "test result", "VR": "verification result", "ER": "error"}[outcome.kim_id[:2]]
    runner_item = outcome.runner
    environment = outcome.environment
    summary = {
        "kim_id": outcome.kim_id,
        "kind": kind,
        "status": "error" if isinstance(outcome, Error) else "ok",
        "runner": runner_item.kim_id if runner_item else None,
        "model": outcome.model.kim_id if outcome.model else None,
        "created_at": outcome.created_at.isoformat(),
        "runtime": outcome.runtime,
        "usertime": outcome.usertime,
        "memmax": outcome.memmax,
        "stale": outcome.stale,
        "path": str(outcome.path),
        "environment": {
            "host": environment.host, "os": environment.os,
            "python": environment.python_version, "kim_api": environment.kim_api_version,
            "kimpy": environment.kimpy_version, "pipeline": environment.pipeline_version,
        } if environment else None,
        "upstream": outcome.provenance.get("upstream-results", []),
        "provenance": outcome.provenance,
    }
    if isinstance(outcome, Error):
        summary.update(category=outcome.category, message=outcome.message,
                       stdout_tail=outcome.stdout_tail, stderr_tail=outcome.stderr_tail,
                       kimlog_tail=outcome.kimlog_tail)
    elif isinstance(outcome, VerificationResult):
        summary["grade"] = outcome.grade
    if isinstance(outcome, TestResult):
        summary["values"] = [
            {"property": v.property_name, "key": v.key, "instance": v.instance, "value": v.value,
             "unit": v.unit or None}
            for v in outcome.values.order_by("instance", "property_name", "key")
        ]
    return summary


def pair_states(item, partners: list[str]) -> dict[str, dict]:
    """For each partner KIM ID of ``item``: its pair's current outcome or live job, as data
    and a few words (``matches``). A fixed number of queries whatever the number of partners."""
    is_model = isinstance(item, Model)
    numbers = {kim_id: kim_id.split("__")[-1][3:15] for kim_id in partners}
    current: dict[tuple[str, str], object] = {}
    leaders = {kim_id.split("__")[-1][:2] for kim_id in partners} if is_model else {item.leader}
    for leader in leaders:
        for table in outcome_tables(leader):
            rows = table.filter(subject_number=item.number) if is_model else \
                table.filter(runner_number=item.number)
            for outcome in rows.current():
                other = outcome.runner_number if is_model else outcome.subject_number
                current[(leader, other)] = outcome
    side = "subject_kim_id" if is_model else "runner_kim_id"
    jobs = {(j.runner_kim_id if is_model else j.subject_kim_id): j
            for j in Job.objects.active().filter(**{side: item.kim_id})}
    states = {}
    for kim_id in partners:
        leader = kim_id.split("__")[-1][:2] if is_model else item.leader
        outcome = current.get((leader, numbers[kim_id]))
        job = jobs.get(kim_id)
        state = {"outcome": outcome.kim_id if outcome else None,
                 "category": getattr(outcome, "category", None),
                 "job": job.pk if job else None, "state": job.state if job else None}
        words = []
        if outcome is not None:
            words.append(f"error {outcome.kim_id} ({outcome.category})"
                         if isinstance(outcome, Error) else f"result {outcome.kim_id}")
        if job is not None:
            words.append(f"job {job.pk} {job.state}")
        state["text"] = ", ".join(words) or "not run"
        states[kim_id] = state
    return states
