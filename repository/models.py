"""KIM items and the results of running them, as Django models over the on-disk repository.

Every item row mirrors one folder ``KIM_REPOSITORY_DIR/<leader>/<KIM ID>``; the folder is the
truth for files, the row is the truth for questions (matching, latest versions, results).
"""

from django.db import models
from django.db.models import Exists, OuterRef, Q

from repository import kimcodes, storage
from repository.errors import InvalidKIMID, PipelineSearchError


class Status(models.TextChoices):
    PENDING = "pending", "pending (under review)"
    APPROVED = "approved", "approved"


class SourceFormat(models.TextChoices):
    KIM2012 = "2012", "2012 (metadata.json, pipeline.in)"
    KIM2020 = "2020", "2020 (kimspec.edn, pipeline.stdin.tpl)"
    INSTALLED = "installed", "installed in a KIM API collection"
    PIPELINE = "pipeline", "written by the pipeline"


class ItemQuerySet(models.QuerySet):
    """The questions the 2012 ``database`` module answered, as QuerySet methods."""

    def latest_versions(self):
        """Only the highest version of each lineage (leader, number)."""
        newer = self.model.objects.filter(
            leader=OuterRef("leader"), number=OuterRef("number"), version__gt=OuterRef("version")
        )
        return self.filter(~Exists(newer))

    def lineage(self, code: "kimcodes.KIMCode"):
        return self.filter(leader=code.leader, number=code.number)

    def matching_code(self, text: str):
        """Every row a full or partial KIM ID can mean (all versions when it has none)."""
        code = kimcodes.parse_kim_code(text)
        rows = self.lineage(code)
        if code.version is not None:
            rows = rows.filter(version=code.version)
        if code.name is not None:
            rows = rows.filter(name=code.name)
        return rows

    def resolve(self, text: str):
        """The one item a KIM ID names; without a version, the latest version."""
        rows = self.matching_code(text).order_by("-version")
        item = rows.first()
        if item is None:
            raise PipelineSearchError(f"no {self.model._meta.verbose_name} answers to {text!r}",
                                      kim_id=text)
        return item

    def with_species(self, symbol: str):
        # JSON text holds '"Ar"'; quoting avoids "A" matching "Ar".
        return self.filter(species__icontains=f'"{symbol}"')

    def approved(self):
        return self.filter(status=Status.APPROVED)


class KIMItem(models.Model):
    """Fields every KIM item shares (the seed's KIMObject)."""

    #: Leaders this kind of item may have; the first is the default.
    leaders: tuple[str, ...] = ()

    kim_id = models.CharField("KIM ID", max_length=255, unique=True)
    name = models.CharField(max_length=200, blank=True)
    leader = models.CharField(max_length=2, editable=False)
    number = models.CharField(max_length=12, editable=False)
    version = models.PositiveSmallIntegerField(editable=False)
    title = models.CharField(max_length=300, blank=True, help_text="One line a curator reads.")
    description = models.TextField(blank=True)
    species = models.JSONField(default=list, blank=True, help_text="Chemical symbols, e.g. [\"Al\"].")
    metadata = models.JSONField(default=dict, blank=True, editable=False)
    kim_api_version = models.CharField("KIM API version", max_length=32, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.APPROVED,
                              help_text="A pending item runs only the Verification Checks.")
    source_format = models.CharField(max_length=10, choices=SourceFormat.choices,
                                     default=SourceFormat.KIM2020, editable=False)
    content_hash = models.CharField(max_length=64, blank=True, editable=False,
                                    help_text="Hash of the folder's files at import: a re-import that finds "
                                              "the same hash changes nothing.")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = ItemQuerySet.as_manager()

    class Meta:
        abstract = True
        ordering = ["name", "number", "version"]
        constraints = [
            # One row per version of a lineage; the director's "is there a newer version" relies on it.
            models.UniqueConstraint(fields=["leader", "number", "version"],
                                    name="%(app_label)s_%(class)s_unique_version"),
        ]
        indexes = [
            # latest_versions() and resolve() look up a lineage by number.
            models.Index(fields=["number", "version"], name="%(class)s_lineage"),
        ]

    def __str__(self) -> str:
        return self.kim_id

    def save(self, *args, **kwargs):
        self.set_code(self.kim_id)
        super().save(*args, **kwargs)

    def set_code(self, text: str) -> None:
        """Fill the ID's parts from the full ID; refuse a leader this kind cannot have."""
        code = kimcodes.parse_kim_code(text, require_version=True)
        if self.leaders and code.leader not in self.leaders:
            raise InvalidKIMID(f"a {self._meta.verbose_name} has leader {'/'.join(self.leaders)}, "
                               f"not {code.leader}", kim_id=text)
        self.kim_id = str(code)
        self.name = code.name or ""
        self.leader, self.number, self.version = code.leader, code.number, code.version

    @property
    def code(self) -> "kimcodes.KIMCode":
        return kimcodes.parse_kim_code(self.kim_id)

    @property
    def path(self):
        """The item's folder in the repository (the seed's ``KIMObject.path``)."""
        return storage.item_path(self.kim_id)

    @property
    def latest_version(self):
        return type(self).objects.lineage(self.code).order_by("-version").first()

    @property
    def is_latest_version(self) -> bool:
        return not type(self).objects.lineage(self.code).filter(version__gt=self.version).exists()


class RunsOnModels:
    """A Test or Verification Check: calling it with a Model runs the pair (the seed's ``test(model)``)."""

    # Django templates must show the item, not call it.
    do_not_call_in_templates = True

    def __call__(self, model, **options):
        """Run on ``model`` (a Model or its KIM ID) through ``runner.execute.run_pair``."""
        from runner.execute import run_pair  # lazy: repository must import without runner

        if isinstance(model, str):
            model = kim_obj(model)
        return run_pair(self, model, **options)


class TestDriver(KIMItem):
    __test__ = False  # a KIM item, not a pytest test class
    leaders = ("TD",)
    executables = models.JSONField(default=list, blank=True, editable=False)

    class Meta(KIMItem.Meta):
        verbose_name = "test driver"


class Test(RunsOnModels, KIMItem):
    __test__ = False  # a KIM item, not a pytest test class
    leaders = ("TE",)
    driver = models.ForeignKey(TestDriver, null=True, blank=True, on_delete=models.PROTECT,
                               related_name="tests")
    depends_on = models.ManyToManyField(
        "self", symmetrical=False, blank=True, related_name="dependents",
        help_text="Tests whose results this test's template reads (dependencies.edn, @DATA).",
    )
    matching_models = models.JSONField(default=list, blank=True,
                                       help_text="kimspec's matching-models, e.g. [\"standard-models\"].")
    simulator_name = models.CharField(max_length=64, blank=True)
    timeout = models.PositiveIntegerField(null=True, blank=True,
                                          help_text="Seconds; empty means RUNNER_TIMEOUT.")

    class Meta(KIMItem.Meta):
        pass


class ModelDriver(KIMItem):
    leaders = ("MD",)
    collection = models.CharField(max_length=32, blank=True, editable=False,
                                  help_text="KIM API collection it is installed in, if any.")

    class Meta(KIMItem.Meta):
        verbose_name = "model driver"


class Model(KIMItem):
    """A portable model (MO) or a simulator model (SM)."""

    class Kind(models.TextChoices):
        PORTABLE = "portable", "portable model"
        SIMULATOR = "simulator", "simulator model"

    leaders = ("MO", "SM")
    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.PORTABLE,
                            editable=False)
    driver = models.ForeignKey(ModelDriver, null=True, blank=True, on_delete=models.PROTECT,
                               related_name="models")
    simulator_name = models.CharField(max_length=64, blank=True)
    simulator_compatible_with_standard = models.BooleanField(
        default=False, help_text="A simulator model that standard-models tests may use.")
    collection = models.CharField(max_length=32, blank=True, editable=False,
                                  help_text="KIM API collection it is installed in, if any.")

    class Meta(KIMItem.Meta):
        indexes = [
            models.Index(fields=["number", "version"], name="model_lineage"),
            # matching: candidate models by kind and status.
            models.Index(fields=["kind", "status"], name="model_kind_status"),
        ]

    def save(self, *args, **kwargs):
        self.set_code(self.kim_id)
        self.kind = self.Kind.SIMULATOR if self.leader == "SM" else self.Kind.PORTABLE
        super().save(*args, **kwargs)


class SimulatorModel(Model):
    """Simulator models (SM) on their own admin page; stored with the portable models."""

    class Meta:
        proxy = True
        verbose_name = "simulator model"


class Property(KIMItem):
    """A property definition (PR), known by its ``tag:`` id and its short name."""

    leaders = ("PR",)
    property_id = models.CharField(max_length=255, blank=True, db_index=True,
                                   help_text="tag:…:property/<short-name>")
    short_name = models.CharField(max_length=120, blank=True, db_index=True)
    definition = models.JSONField(default=dict, blank=True, editable=False)

    class Meta(KIMItem.Meta):
        verbose_name_plural = "properties"


class ReferenceDatum(KIMItem):
    """An experimental or reference value with its citation."""

    leaders = ("RD",)
    property = models.ForeignKey(Property, null=True, blank=True, on_delete=models.SET_NULL,
                                 related_name="reference_data")
    data = models.JSONField(default=list, blank=True, editable=False,
                            help_text="Property instances (kim-property format).")
    citation = models.TextField(blank=True)

    class Meta(KIMItem.Meta):
        verbose_name = "reference datum"
        verbose_name_plural = "reference data"


class VerificationCheck(RunsOnModels, KIMItem):
    class Category(models.TextChoices):
        MANDATORY = "mandatory"
        CONSISTENCY = "consistency"
        INFORMATIONAL = "informational"

    leaders = ("VC",)
    category = models.CharField(max_length=16, choices=Category.choices, default=Category.MANDATORY)
    graded = models.BooleanField(default=True, help_text="Graded A–F; otherwise pass/fail.")
    timeout = models.PositiveIntegerField(null=True, blank=True)

    class Meta(KIMItem.Meta):
        verbose_name = "verification check"


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


class OutcomeQuerySet(models.QuerySet):
    def for_pair(self, runner, subject):
        return self.filter(runner_number=runner.number, subject_number=subject.number)

    def by_latest(self):
        """KIM-FACTS' order: runner version, then subject version, then creation time."""
        return self.order_by("-runner_version", "-subject_version", "-created_at")

    def latest_per_pair(self):
        """The latest row of each lineage pair (runner number, subject number) in this table."""
        newer = self.model.objects.filter(
            runner_number=OuterRef("runner_number"), subject_number=OuterRef("subject_number"),
        ).filter(
            Q(runner_version__gt=OuterRef("runner_version"))
            | Q(runner_version=OuterRef("runner_version"), subject_version__gt=OuterRef("subject_version"))
            | Q(runner_version=OuterRef("runner_version"), subject_version=OuterRef("subject_version"),
                created_at__gt=OuterRef("created_at"))
        )
        return self.filter(~Exists(newer))

    def current(self):
        return self.filter(stale=False)


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

    class Meta:
        abstract = True
        ordering = ["-created_at"]
        indexes = [
            # latest_per_pair() and for_pair(): lineage pair, then versions.
            models.Index(fields=["runner_number", "subject_number", "runner_version",
                                 "subject_version"], name="%(class)s_pair"),
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


class VerificationResult(Outcome):
    leaders = ("VR",)
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
        INTERNAL = "internal"

    leaders = ("ER",)
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


#: Leader → Django model, for kim_obj() and the importer.
MODEL_FOR_LEADER = {
    "TE": Test,
    "TD": TestDriver,
    "MO": Model,
    "SM": Model,
    "MD": ModelDriver,
    "PR": Property,
    "RD": ReferenceDatum,
    "VC": VerificationCheck,
    "TR": TestResult,
    "VR": VerificationResult,
    "ER": Error,
}


def kim_obj(text: str):
    """The item or result any KIM ID names (the seed's ``kim_obj``); no version → latest."""
    code = kimcodes.parse_kim_code(text)
    try:
        model_class = MODEL_FOR_LEADER[code.leader]
    except KeyError:
        raise PipelineSearchError(f"no kind of item has leader {code.leader}", kim_id=text) from None
    if issubclass(model_class, Outcome):
        item = model_class.objects.filter(kim_id__contains=code.short).first()
        if item is None:
            raise PipelineSearchError(f"no {model_class._meta.verbose_name} {text}", kim_id=text)
        return item
    return model_class.objects.filter(leader=code.leader).resolve(text)


def latest_outcome(runner, subject):
    """The latest TestResult or Error (or VerificationResult/Error) of one lineage pair."""
    if isinstance(runner, Test):
        tables = [TestResult.objects.filter(test__number=runner.number),
                  Error.objects.filter(test__number=runner.number)]
    else:
        tables = [VerificationResult.objects.filter(verification_check__number=runner.number),
                  Error.objects.filter(verification_check__number=runner.number)]
    candidates = [rows.filter(subject_number=subject.number).by_latest().first() for rows in tables]
    candidates = [c for c in candidates if c is not None]
    if not candidates:
        return None
    return max(candidates, key=lambda o: (o.runner_version, o.subject_version, o.created_at))
