"""Runner state: builds of items from source (and, with the queue, jobs).

The items and their results live in ``repository``; this app records how things ran.
"""

from django.db import models


class Build(models.Model):
    """One build of one item version from source (the seed's ``make()``), with its log.

    A runner (test, test driver, check) is built once per version into the pipeline's build
    area; a model or driver is built and installed into the pipeline's KIM API collection.
    """

    class Status(models.TextChoices):
        BUILDING = "building"
        SUCCEEDED = "succeeded"
        FAILED = "failed"

    kim_id = models.CharField("KIM ID", max_length=255)
    content_hash = models.CharField(max_length=64, blank=True,
                                    help_text="Hash of the sources built; a change means a rebuild.")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.BUILDING)
    log = models.TextField(blank=True)
    artifact = models.CharField(max_length=1024, blank=True,
                                help_text="Built executable, or the collection it was installed in.")
    started_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            # One build record per item version: "built once per version, not again unless asked".
            models.UniqueConstraint(fields=["kim_id"], name="runner_build_unique_item"),
        ]

    def __str__(self) -> str:
        return f"build of {self.kim_id}: {self.status}"
