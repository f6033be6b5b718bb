"""A model's verification-check grades as they stand: one row per latest check, with the
figures behind each grade, and which mandatory checks keep the model from being approved.

Read by the admin (repository.admin_grades) and by approval (runner.director.approval), so the
rule for "passed" is written once: P, or a letter A–D for a graded check. N/A, F, an Error (the
check's own code failed) and a check not run yet are no pass.
"""

from dataclasses import dataclass, field

from repository.models import Error, Model, VerificationCheck, latest_outcome

PASSING = frozenset({"P", "A", "B", "C", "D"})
ERROR, NOT_RUN = "Error", "not run"


@dataclass
class CheckGrade:
    check: VerificationCheck
    outcome: object  # VerificationResult, Error or None
    grade: str
    figures: list = field(default_factory=list)  # (name, grade, comment) per figure instance

    @property
    def mandatory(self) -> bool:
        return self.check.category == VerificationCheck.Category.MANDATORY

    @property
    def passed(self) -> bool:
        return self.grade in PASSING


def _figures(instances) -> list:
    rows = []
    for instance in (instances or [])[1:]:  # the first instance is the check's overall grade
        name = str(instance.get("vc-name", {}).get("source-value", ""))
        rows.append((name.split("/", 1)[-1], str(instance.get("vc-grade", {}).get("source-value", "")),
                     str(instance.get("vc-comment", {}).get("source-value", ""))))
    return rows


def grade_of(check: VerificationCheck, model: Model) -> CheckGrade:
    outcome = latest_outcome(check, model)
    if outcome is None:
        return CheckGrade(check, None, NOT_RUN)
    if isinstance(outcome, Error):
        return CheckGrade(check, outcome, ERROR)
    return CheckGrade(check, outcome, outcome.grade or "N/A", _figures(outcome.instances))


def check_grades(model: Model, checks=None) -> list[CheckGrade]:
    """Every latest check's grade for the model (or those of ``checks``), mandatory first."""
    if checks is None:
        checks = VerificationCheck.objects.latest_versions()
    rows = [grade_of(check, model) for check in checks]
    return sorted(rows, key=lambda row: (not row.mandatory, row.check.kim_id))


def blocking(grades: list[CheckGrade]) -> list[CheckGrade]:
    """The mandatory checks that have not passed."""
    return [row for row in grades if row.mandatory and not row.passed]


def grades_snapshot(grades: list[CheckGrade]) -> dict:
    """{check KIM ID: grade} as an ApprovalDecision keeps it."""
    return {row.check.kim_id: row.grade for row in grades}
