"""What the template globals read from the database: items, a pair's current result, a result
by its ID, and the instances of a property in a result. Every lookup is exact (result IDs carry
no name, so never ``LIKE '%…%'``)."""

from repository import kimcodes
from repository.errors import (
    InvalidKIMID,
    PipelineDataMissing,
    PipelineSearchError,
    PipelineTemplateError,
)
from repository.models import Model, Property, Test, TestResult, latest_outcome

#: Instance keys that are not property keys.
INSTANCE_META_KEYS = {"property-id", "instance-id", "meta"}


def resolve_item(model_class, text: str, what: str):
    try:
        return model_class.objects.resolve(str(text))
    except InvalidKIMID as exc:
        raise PipelineTemplateError(f"{what}: {exc.reason}") from exc


def pair_result(test_text: str, model_text: str) -> TestResult:
    """The current result of (test, model), or PipelineDataMissing naming the pair.

    "Current" is the one shared definition (repository.models.latest_outcome): an error that is
    the pair's current outcome means there is no result to read.
    """
    try:
        test = resolve_item(Test, test_text, "test")
        model = resolve_item(Model, model_text, "model")
    except PipelineSearchError as exc:
        raise PipelineDataMissing(f"needs the result of ({test_text}, {model_text}), but "
                                  f"{exc.reason}", kim_id=exc.kim_id) from exc
    outcome = latest_outcome(test, model)
    if outcome is None:
        raise PipelineDataMissing(f"needs the result of ({test.kim_id}, {model.kim_id}), "
                                  "which does not exist yet", kim_id=test.kim_id)
    if not isinstance(outcome, TestResult):
        raise PipelineDataMissing(f"needs the result of ({test.kim_id}, {model.kim_id}), whose "
                                  f"current outcome is the error {outcome.kim_id}", kim_id=test.kim_id)
    return outcome


def result_by_id(text: str) -> TestResult | None:
    """The test result a TR ID names; without a version, the latest version of that number.

    Result IDs are ``TR_<number>_<version>``: the versions of one number are a range of the
    unique kim_id index, so the lookup is exact (no LIKE) and indexed on every database.
    """
    code = kimcodes.parse_kim_code(str(text), leader="TR")
    def kim_id(version: int) -> str:
        return kimcodes.format_kim_code(None, "TR", code.number, version)

    if code.version is not None:
        return TestResult.objects.filter(kim_id=kim_id(code.version)).first()
    return (TestResult.objects.filter(kim_id__gte=kim_id(0), kim_id__lte=kim_id(999))
            .order_by("-kim_id").first())


def property_matches(instance: dict, prop: str) -> bool:
    property_id = str(instance.get("property-id", ""))
    if property_id == prop:
        return True
    if "property/" in prop:
        return False
    if kimcodes.is_kim_code(prop):
        # A PR code: compare lineages (2012 results carry PR codes), or through the Property row.
        code = kimcodes.parse_kim_code(prop)
        if kimcodes.is_kim_code(property_id):
            return kimcodes.parse_kim_code(property_id).lineage == code.lineage
        row = Property.objects.filter(number=code.number).order_by("-version").first()
        return row is not None and row.property_id == property_id
    return property_id.rsplit("property/", 1)[-1] == prop


def instances_of(result, prop: str) -> list[dict]:
    found = [i for i in (result.instances or []) if property_matches(i, prop)]
    return sorted(found, key=lambda i: i.get("instance-id", 0))


def simple_value(instance: dict):
    """The value of a one-key instance (2012 style), else {key: value}."""
    keys = [k for k in instance if k not in INSTANCE_META_KEYS]
    values = {k: (instance[k].get("source-value") if isinstance(instance[k], dict) else instance[k])
              for k in keys}
    return values[keys[0]] if len(keys) == 1 else values
