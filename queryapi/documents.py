"""The documents of OpenKIM's ``data`` and ``obj`` databases, made from this database's rows.

``data``: one document per property instance of a test result, verification result or reference
datum — the instance's keys (each with its ``si-value``), ``property-id``, ``instance-id``,
``meta`` (runner, subject and runner's driver as item dicts, ``uuid``, ``type``, ``created_on``)
and ``latest``. ``obj``: one document per item. ``log`` (OpenKIM's run logs) is not kept.
"""

from queryapi.units import add_si
from repository import kimcodes
from repository.models import ReferenceDatum, TestResult, VerificationResult

#: The ``type`` of an item document, by leader (OpenKIM spells them in lower case).
ITEM_TYPES = ("te", "td", "mo", "md", "sm", "vc", "rd", "pr")


def item_dict(kim_id: str, *, latest: bool | None = None) -> dict:
    """An item as OpenKIM's pipeline names it (mongodb.kimcode_to_dict)."""
    code = kimcodes.parse_kim_code(kim_id)
    answer = {
        "kimcode": kim_id,
        "extended-id": kim_id,
        "short-id": kimcodes.format_kim_code(None, code.leader, code.number, code.version),
        "shortcode": f"{code.leader}_{code.number}",
        "kimnum": code.number,
        "version": code.version,
        "name": code.name or "",
        "type": code.leader.lower(),
    }
    if latest is not None:
        answer["latest"] = latest
    return answer


def _runner_dict(runner) -> dict:
    answer = item_dict(runner.kim_id)
    driver = getattr(runner, "driver", None)
    if driver is not None:
        answer["driver"] = item_dict(driver.kim_id)
    return answer


def outcome_documents(outcome, *, latest: bool) -> list[dict]:
    """The data documents of a TestResult or VerificationResult, one per instance."""
    kind = "tr" if isinstance(outcome, TestResult) else "vr"
    meta = {
        "uuid": outcome.kim_id,
        "type": kind,
        "created_on": outcome.created_at.isoformat() if outcome.created_at else None,
        "runner": _runner_dict(outcome.runner),
        "subject": item_dict(outcome.model.kim_id),
    }
    if kind == "vr" and getattr(outcome, "grade", ""):
        meta["grade"] = outcome.grade
    return [_instance_document(instance, meta, latest) for instance in (outcome.instances or [])
            if isinstance(instance, dict)]


def reference_documents(datum: ReferenceDatum, *, latest: bool) -> list[dict]:
    """The data documents of a reference datum: its instances, its ID as ``meta.uuid``."""
    meta = {"uuid": datum.kim_id, "type": "rd",
            "created_on": datum.created_at.isoformat() if datum.created_at else None,
            "subject": item_dict(datum.kim_id), "species": list(datum.species or []),
            "citation": datum.citation}
    return [_instance_document(instance, meta, latest) for instance in (datum.data or [])
            if isinstance(instance, dict)]


def _instance_document(instance: dict, meta: dict, latest: bool) -> dict:
    return {**add_si(instance), "meta": meta, "latest": latest}


def object_document(item, *, latest: bool) -> dict:
    """The obj document of an item (OpenKIM's obj database, the fields kim-query's users read)."""
    answer = item_dict(item.kim_id, latest=latest)
    answer.update({
        "title": item.title,
        "species": list(item.species or []),
        "approved": getattr(item, "status", "approved") == "approved",
        "created_on": item.created_at.isoformat() if getattr(item, "created_at", None) else None,
    })
    driver = getattr(item, "driver", None)
    if driver is not None:
        answer["driver"] = item_dict(driver.kim_id)
    for field in ("simulator_name", "property_id", "kim_api_version"):
        value = getattr(item, field, "")
        if value:
            answer[field.replace("_", "-")] = value
    metadata = getattr(item, "metadata", None) or {}
    for key in ("potential-type", "simulator-name", "description", "executables"):
        if key in metadata and key not in answer:
            answer[key] = metadata[key]
    if getattr(item, "depends_on", None) is not None and item.pk:
        answer["dependencies"] = sorted(item.depends_on.values_list("kim_id", flat=True))
    return answer


def outcome_of(kim_id: str):
    """The TestResult or VerificationResult of a result ID (None for an Error or nothing)."""
    table = {"TR": TestResult, "VR": VerificationResult}.get(kim_id[:2])
    return table.objects.filter(kim_id=kim_id).first() if table else None
