"""The outcomes of runs: test results with their property values, verification results, errors.

Which outcome of a pair is latest or current is defined once, in ``repository.models.current``.
"""

from django.db import models, transaction
from django.db.models import Q
from django.db.models.signals import post_delete

from repository import kimcodes, storage
from repository.models.current import OutcomeQuerySet
from repository.models.items import Model, Property, Test, VerificationCheck
from repository.models.provenance import WorkerEnvironment


class Outcome(models.Model):
    """What one run of a runner (test or check) on a subject (model) left: result or error."""

    leaders: tuple[str, ...] = ()

    kim_id = models.CharField("KIM ID", max_length=64, unique=True, editable=False)
    model = models.ForeignKey(Model, on_delete=models.PROTECT, related_name="%(class)ss")
    # Lineage and versions copied from the runner and the subject: "latest per lineage pair"
    # is asked for thousands of pairs at once and must not join four tables.
    runner_number = models.CharField(max_length=12, editable=False)
    runner_version = models.PositiveSmallIntegerField(editable=False)
    subject_number = models.CharField(max_length=12, editable=False)
    subject_version = models.PositiveSmallIntegerField(editable=False)
    created_at = models.DateTimeField(editable=False)
    environment = models.ForeignKey(WorkerEnvironment, null=True, blank=True,
                                    on_delete=models.PROTECT, related_name="%(class)ss")
    runtime = models.FloatField(null=True, blank=True, editable=False, help_text="Wall time, s.")
    usertime = models.FloatField(null=True, blank=True, editable=False, help_text="User CPU time, s.")
    memmax = models.PositiveBigIntegerField(null=True, blank=True, editable=False,
                                            help_text="Maximum resident memory, KiB.")
    provenance = models.JSONField(default=dict, blank=True, editable=False,
                                  help_text="pipelinespec: rendered input, upstream results used, …")
    stale = models.BooleanField(default=False,
                                help_text="An upstream result changed: this one must be re-run.")

    objects = OutcomeQuerySet.as_manager()

    #: The foreign keys naming this table's runner (current.RUNNER_FIELDS): which outcome
    #: tables compete for "latest" with this one.
    runner_fields: tuple[str, ...] = ()

    class Meta:
        abstract = True
        ordering = ["-created_at"]
        indexes = [
            # latest_per_pair() and current(): a pair's rows by lineage pair, then versions.
            models.Index(fields=["runner_number", "subject_number", "runner_version",
                                 "subject_version"], name="%(class)s_pair"),
            # A new model against every test: the director's current_outcome_keys(tests, [model])
            # and the template's query() by meta.subject select a subject's rows.
            models.Index(fields=["subject_number", "runner_number"], name="%(class)s_subject"),
            # Newest first (Meta.ordering): the admin lists and their date hierarchy, the home
            # page's recent results, the template's query() over results.
            models.Index(fields=["-created_at"], name="%(class)s_created"),
            # The admin's newest-first lists order by (-created_at, -id) (Django adds the pk to
            # make the order total); without this a page sorts the whole table (bench_site).
            models.Index(fields=["-created_at", "-id"], name="%(class)s_created_id"),
        ]

    def __str__(self) -> str:
        return self.kim_id

    def save(self, *args, **kwargs):
        kimcodes.parse_kim_code(self.kim_id, leader=self.leaders, require_version=True)
        self.copy_lineages()
        super().save(*args, **kwargs)

    @property
    def runner(self):
        raise NotImplementedError

    @property
    def path(self):
        return storage.item_path(self.kim_id)

    def copy_lineages(self) -> None:
        # An Error of a failed item build has no runner (and, for a driver, no model).
        runner, subject = self.runner, self.model
        self.runner_number, self.runner_version = (runner.number, runner.version) if runner else ("", 0)
        self.subject_number, self.subject_version = (subject.number, subject.version) if subject else ("", 0)


class TestResult(Outcome):
    __test__ = False  # a KIM item, not a pytest test class
    leaders = ("TR",)
    runner_fields = ("test",)
    test = models.ForeignKey(Test, on_delete=models.PROTECT, related_name="results")
    instances = models.JSONField(default=list, blank=True, editable=False,
                                 help_text="Property instances as kim-property wrote them.")

    class Meta(Outcome.Meta):
        verbose_name = "test result"

    def __getitem__(self, prop: str):
        """The value of a property key with its unit (the seed's ``TestResult[...]``)."""
        matches = self.values.filter(Q(property_id=prop) | Q(property_name=prop) | Q(key=prop))
        found = list(matches)
        if not found:
            raise KeyError(f"{self.kim_id} has no property or key {prop!r}")
        if len(found) == 1:
            return found[0].quantity
        return {f"{v.property_name}/{v.key}#{v.instance}": v.quantity for v in found}

    @property
    def runner(self):
        return self.test


class PropertyValue(models.Model):
    """One key of one property instance of a TestResult, so values are queryable."""

    result = models.ForeignKey(TestResult, on_delete=models.CASCADE, related_name="values")
    instance = models.PositiveSmallIntegerField(help_text="instance-id in results.edn")
    property_id = models.CharField(max_length=255)
    property_name = models.CharField(max_length=120, db_index=True)
    key = models.CharField(max_length=120)
    value = models.JSONField()
    unit = models.CharField(max_length=64, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["result", "instance", "key"],
                                    name="repository_propertyvalue_unique_key"),
        ]

    def __str__(self) -> str:
        return f"{self.property_name}.{self.key} = {self.value} {self.unit}".strip()

    @property
    def quantity(self) -> tuple:
        return (self.value, self.unit or None)

    @classmethod
    def rows_for(cls, result: "TestResult", instances: list[dict]) -> list["PropertyValue"]:
        """The queryable values of a result's property instances (kim-property's layout), unsaved."""
        rows, names = [], {}
        for number, instance in enumerate(instances, 1):
            property_id = str(instance.get("property-id", ""))
            if property_id not in names:
                names[property_id] = short_property_name(property_id)
            for key, entry in instance.items():
                if key in ("property-id", "instance-id", "meta") or not isinstance(entry, dict):
                    continue
                rows.append(cls(
                    result=result, instance=int(instance.get("instance-id", number)),
                    property_id=property_id[:255], property_name=names[property_id][:120],
                    key=key[:120], value=entry.get("source-value"),
                    unit=str(entry.get("source-unit") or "")[:64]))
        return rows


def short_property_name(property_id: str) -> str:
    """``tag:…:property/<short-name>`` → short name; a 2012 PR code → its Property row's short name."""
    if not kimcodes.is_kim_code(property_id):
        return property_id.rsplit("property/", 1)[-1]
    code = kimcodes.parse_kim_code(property_id)
    row = Property.objects.filter(number=code.number).exclude(short_name="").order_by("-version").first()
    return row.short_name if row else property_id


class VerificationResult(Outcome):
    leaders = ("VR",)
    runner_fields = ("verification_check",)
    verification_check = models.ForeignKey(VerificationCheck, on_delete=models.PROTECT,
                                           related_name="results")
    grade = models.CharField(max_length=4, blank=True, help_text="A–F, P/F or N/A.")
    instances = models.JSONField(default=list, blank=True, editable=False)

    class Meta(Outcome.Meta):
        verbose_name = "verification result"

    @property
    def runner(self):
        return self.verification_check


class Error(Outcome):
    """A failed run, kept under ``er/`` with what it printed."""

    class Category(models.TextChoices):
        MISMATCH = "mismatch"
        TIMEOUT = "timeout"
        NONZERO_EXIT = "nonzero-exit"
        NO_RESULTS = "no-results"
        INVALID_RESULTS = "invalid-results"
        BUILD = "build"
        TEMPLATE = "template"
        DEPENDENCY = "dependency"
        # The worker lacks a module or program the runner needs (an unmet requirements.txt).
        ENVIRONMENT = "environment"
        # An item's files changed since import: its code is refused before it runs.
        INTEGRITY = "integrity"
        # A limit of the sandbox was reached: memory, processes, file or output size, disk.
        RESOURCE = "resource"
        INTERNAL = "internal"

    leaders = ("ER",)
    runner_fields = ("test", "verification_check")
    model = models.ForeignKey(Model, null=True, blank=True, on_delete=models.PROTECT,
                              related_name="errors")
    built_item = models.CharField(max_length=255, blank=True,
                                  help_text="KIM ID of the item whose build failed (category build).")
    test = models.ForeignKey(Test, null=True, blank=True, on_delete=models.PROTECT,
                             related_name="errors")
    verification_check = models.ForeignKey(VerificationCheck, null=True, blank=True,
                                           on_delete=models.PROTECT, related_name="errors")
    category = models.CharField(max_length=16, choices=Category.choices)
    message = models.TextField()
    stdout_tail = models.TextField(blank=True)
    stderr_tail = models.TextField(blank=True)
    kimlog_tail = models.TextField(blank=True)

    class Meta(Outcome.Meta):
        constraints = [
            # A run's error belongs to one runner, a test or a check; a failed item build to none.
            models.CheckConstraint(
                condition=~Q(test__isnull=False, verification_check__isnull=False),
                name="repository_error_at_most_one_runner",
            ),
            models.CheckConstraint(
                condition=Q(test__isnull=False) | Q(verification_check__isnull=False)
                | Q(category="build"),
                name="repository_error_runner_unless_build",
            ),
        ]

    @property
    def runner(self):
        return self.test or self.verification_check


def remove_outcome_folder(sender, instance, **kwargs) -> None:
    """Rows and folders together: a deleted outcome's folder goes once the deletion commits.

    Connected for every outcome table (admin deletions, bulk ones included, send post_delete
    per row); a rolled-back deletion keeps its folder, as it keeps its row.
    """
    folder = instance.path
    transaction.on_commit(lambda: storage.remove_folder(folder))


for _outcome_table in (TestResult, VerificationResult, Error):
    post_delete.connect(remove_outcome_folder, sender=_outcome_table,
                        dispatch_uid=f"remove_outcome_folder_{_outcome_table.__name__}")
