"""The documents the query API answers from: one per property instance (``data``) or per item
(``obj``), as OpenKIM's MongoDB holds them, with the keys queries filter on most as columns."""

from django.db import models


class QueryDocument(models.Model):
    """One document of OpenKIM's ``data`` or ``obj`` database, kept in step with the rows."""

    class Database(models.TextChoices):
        DATA = "data"
        OBJ = "obj"

    database = models.CharField(max_length=4, choices=Database.choices)
    # data: "<result or RD ID>#<instance-id>"; obj: the item's KIM ID.
    key = models.CharField(max_length=300)
    # The result or reference datum (data) or the item (obj) the document was made from.
    source = models.CharField(max_length=255)
    # data: meta.type (tr, vr, rd); obj: the item's type (te, td, mo, …).
    kind = models.CharField(max_length=2)
    runner_kimcode = models.CharField(max_length=255, blank=True)
    runner_number = models.CharField(max_length=12, blank=True)
    subject_kimcode = models.CharField(max_length=255, blank=True)
    subject_number = models.CharField(max_length=12, blank=True)
    property_id = models.CharField(max_length=255, blank=True)
    latest = models.BooleanField(default=True)
    created_on = models.DateTimeField(null=True)
    document = models.JSONField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["database", "key"], name="queryapi_document_key"),
        ]
        indexes = [
            # The typical template query and get_test_result / the named queries: one subject's
            # latest instances of one property (the runner regex is then read on few rows).
            models.Index(fields=["database", "subject_kimcode", "property_id", "latest"],
                         name="queryapi_subject_property"),
            # A runner's results (meta.runner.kimcode equal, or an anchored regex's prefix).
            models.Index(fields=["database", "runner_kimcode", "latest"], name="queryapi_runner"),
            # A property across every model (the named queries without a subject, distinct).
            models.Index(fields=["database", "property_id", "latest"], name="queryapi_property"),
            # Keeping documents in step: every document of a result, of a lineage pair.
            models.Index(fields=["source"], name="queryapi_source"),
            models.Index(fields=["runner_number", "subject_number"], name="queryapi_pair"),
        ]

    def __str__(self) -> str:
        return f"{self.database}:{self.key}"
