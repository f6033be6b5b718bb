"""The JSON twins of the pages: public fields only, named here one by one.

A field is public when it is listed; everything else (content hashes, worker host names,
leases, job reasons, approval decisions, pending items) stays in the admin. New model fields
therefore never reach ``?format=json`` by accident.
"""

from repository.models import Error

ITEM_FIELDS = ("kim_id", "name", "leader", "number", "version", "title", "description",
               "species", "kim_api_version", "created_at", "updated_at")
#: Per kind, the public fields beyond ITEM_FIELDS.
KIND_FIELDS = {
    "TE": ("simulator_name", "matching_models", "timeout"),
    "MO": ("kind", "simulator_name", "collection"),
    "SM": ("kind", "simulator_name", "collection"),
    "MD": ("collection",),
    "TD": ("executables",),
    "PR": ("property_id", "short_name", "definition"),
    "RD": ("citation", "data"),
    "VC": ("category", "graded", "timeout"),
}
OUTCOME_FIELDS = ("kim_id", "created_at", "runtime", "usertime", "memmax", "stale")
#: Parts of a result's provenance that are public: how it ran, not where.
PROVENANCE_KEYS = ("profiling", "upstream-results", "exit-code", "timed-out", "timeout")
ENVIRONMENT_FIELDS = ("os", "python_version", "kim_api_version", "kimpy_version",
                      "pipeline_version")


def _plain(value):
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value


def item(obj) -> dict:
    fields = ITEM_FIELDS + KIND_FIELDS.get(obj.leader, ())
    data = {name: _plain(getattr(obj, name)) for name in fields}
    data["url"] = f"/id/{obj.kim_id}"
    driver = getattr(obj, "driver", None)
    if driver is not None:
        data["driver"] = driver.kim_id
    return data


def item_summary(obj) -> dict:
    return {"kim_id": obj.kim_id, "title": obj.title, "species": obj.species,
            "url": f"/id/{obj.kim_id}"}


def environment(row) -> dict | None:
    if row is None:
        return None
    return {name: getattr(row, name) for name in ENVIRONMENT_FIELDS}


def provenance(spec: dict) -> dict:
    return {key: spec[key] for key in PROVENANCE_KEYS if key in (spec or {})}


def outcome(obj, values=None) -> dict:
    data = {name: _plain(getattr(obj, name)) for name in OUTCOME_FIELDS}
    runner, subject = obj.runner, obj.model
    data.update(
        url=f"/id/{obj.kim_id}",
        runner=runner.kim_id if runner else None,
        model=subject.kim_id if subject else None,
        environment=environment(obj.environment) if obj.environment_id else None,
        provenance=provenance(obj.provenance),
    )
    if isinstance(obj, Error):
        data.update(category=obj.category, message=obj.message, built_item=obj.built_item)
    if hasattr(obj, "grade"):
        data["grade"] = obj.grade
    if values is not None:
        data["values"] = [value(v) for v in values]
    return data


def value(row) -> dict:
    return {"instance": row.instance, "property": row.property_name, "property_id": row.property_id,
            "key": row.key, "value": row.value, "unit": row.unit}


def page(paged) -> dict:
    """Pagination of a Django Page, as every JSON list gives it."""
    return {"number": paged.number, "pages": paged.paginator.num_pages,
            "count": paged.paginator.count, "has_next": paged.has_next(),
            "has_previous": paged.has_previous()}
