"""Where results were computed and what the KIM API answered: records kept beside the items."""

from django.db import models


class WorkerEnvironment(models.Model):
    """Where a result was computed (the seed's VirtualMachine)."""

    host = models.CharField(max_length=255)
    os = models.CharField("OS", max_length=255)
    python_version = models.CharField(max_length=32)
    kim_api_version = models.CharField("KIM API version", max_length=64)
    kimpy_version = models.CharField(max_length=32)
    pipeline_version = models.CharField(max_length=64)
    first_seen = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["host", "os", "python_version", "kim_api_version", "kimpy_version",
                        "pipeline_version"],
                name="repository_workerenvironment_unique",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.host} (KIM API {self.kim_api_version}, pipeline {self.pipeline_version})"


class MatchVerdict(models.Model):
    """The KIM API's own answer for one (runner, model) pair, cached per item version.

    Creating a KIM API model costs milliseconds; asking again for the same versions is waste.
    """

    runner_kim_id = models.CharField(max_length=255)
    model_kim_id = models.CharField(max_length=255)
    accepted = models.BooleanField()
    reason = models.TextField(blank=True)
    checked_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["runner_kim_id", "model_kim_id"],
                                    name="repository_matchverdict_unique_pair"),
        ]

    def __str__(self) -> str:
        verdict = "accepts" if self.accepted else "refuses"
        return f"KIM API {verdict} {self.runner_kim_id} × {self.model_kim_id}"


class ApprovalDecision(models.Model):
    """A curator's approval of a pending model, kept with what the checks said at that moment.

    ``override`` marks an approval given although a mandatory check had not passed: it needs
    a ``reason``, and the row keeps who decided and why.
    """

    model = models.ForeignKey("repository.Model", on_delete=models.CASCADE,
                              related_name="approval_decisions")
    curator = models.CharField(max_length=150, help_text="User name of the curator who decided.")
    decided_at = models.DateTimeField(auto_now_add=True)
    override = models.BooleanField(default=False,
                                   help_text="Approved although a mandatory check had not passed.")
    reason = models.TextField(blank=True)
    grades = models.JSONField(default=dict, blank=True,
                              help_text="Check KIM ID → grade, as they stood when the curator decided.")

    class Meta:
        ordering = ["-decided_at"]
        constraints = [
            models.CheckConstraint(condition=~models.Q(override=True, reason=""),
                                   name="repository_approval_override_needs_reason"),
        ]

    def __str__(self):
        kind = "override" if self.override else "approval"
        return f"{kind} of {self.model_id} by {self.curator}"
