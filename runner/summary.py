"""A kept outcome (result or error) read back as plain data, for runpair and showresult."""

from repository.models import Error, TestResult, VerificationResult


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
