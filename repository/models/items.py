"""KIM items (tests, drivers, models, properties, reference data, checks) as Django models.

Every item row mirrors one folder ``KIM_REPOSITORY_DIR/<leader>/<KIM ID>``; the folder is the
truth for files, the row is the truth for questions (matching, latest versions, results).
"""

from django.db import connection, models
from django.db.models import Exists, OuterRef, Q
from django.db.models.expressions import RawSQL

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
        """Items whose species list holds ``symbol`` as a whole element, whatever its case.

        Not a LIKE over the JSON text: an element-wise test. PostgreSQL: JSON containment
        (``species @> '["Ni"]'``) over the spellings a symbol can have (as given, "Ni", "ni",
        "NI"). SQLite: ``json_each`` over the list, comparing case-folded elements.
        """
        if connection.vendor == "postgresql":
            spellings = {symbol, symbol.capitalize(), symbol.lower(), symbol.upper()}
            match = Q()
            for spelling in sorted(spellings):
                match |= Q(species__contains=[spelling])
            return self.filter(match)
        table = connection.ops.quote_name(self.model._meta.db_table)
        has = RawSQL(f"EXISTS (SELECT 1 FROM json_each({table}.species) "
                     "WHERE lower(json_each.value) = lower(%s))", [symbol],
                     output_field=models.BooleanField())
        return self.alias(_has_species=has).filter(_has_species=True)

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
    def is_latest_version(self) -> bool:
        return not type(self).objects.lineage(self.code).filter(version__gt=self.version).exists()


class RunsOnModels:
    """A Test or Verification Check: calling it with a Model runs the pair (the seed's ``test(model)``)."""

    # Django templates must show the item, not call it.
    do_not_call_in_templates = True

    def __call__(self, model, *, force: bool = False, rebuild: bool = False):
        """The pair's outcome on ``model`` (a Model or its KIM ID), as ``runpair`` gives it.

        A current outcome is returned as it is; a pair without one is run first; ``force``
        runs it again (superseding the old outcome) or despite the matching rules. A pair
        the rules refuse raises ``runner.pairs.PairRefused`` and writes nothing.
        """
        # The one import of runner in repository (tests/test_architecture.py allows exactly
        # this one): the seed's ``test(model)`` runs a pair, and running is runner's job.
        # Lazy, so that repository imports and migrates without runner.
        from runner.pairs import outcome_for_python

        if isinstance(model, str):
            model = Model.objects.resolve(model)
        return outcome_for_python(self, model, force=force, rebuild=rebuild)


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

    def latest_upstream(self) -> list["Test"]:
        """The latest version of each lineage this test depends on: what its runs read."""
        numbers = set(self.depends_on.values_list("number", flat=True))
        return list(Test.objects.filter(number__in=numbers).latest_versions())


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
