"""Rows and folders of outcomes together: ``importrepo`` finds ``tr/ vr/ er/`` folders without a
row (and recreates the row from the folder's kimspec.edn, pipelinespec.edn, results.edn or
pipeline.exception) and rows without a folder (reported: the folder is the record of the run).
"""

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from django.db import transaction

from repository import edn, kimcodes, storage
from repository.errors import PipelineError
from repository.models import (
    Error,
    Model,
    PropertyValue,
    Test,
    TestResult,
    VerificationCheck,
    VerificationResult,
    WorkerEnvironment,
)

log = logging.getLogger("pipeline.importer")

TABLES = {"TR": TestResult, "VR": VerificationResult, "ER": Error}


@dataclass
class OutcomeReconciliation:
    recreated: list[str] = field(default_factory=list)
    #: Rows whose folder is gone: (KIM ID, path).
    without_folder: list[tuple[str, str]] = field(default_factory=list)
    #: Folders that cannot become a row: (path, why).
    unreadable: list[tuple[str, str]] = field(default_factory=list)


def _item(table, kim_id):
    if not kim_id:
        return None
    row = table.objects.filter(kim_id=kim_id).first()
    if row is None:
        raise PipelineError(f"its kimspec.edn names {kim_id}, which is not in the database")
    return row


def _environment(fields: dict):
    if not fields:
        return None
    keys = ("host", "os", "python_version", "kim_api_version", "kimpy_version", "pipeline_version")
    row, _ = WorkerEnvironment.objects.get_or_create(**{k: str(fields.get(k, "")) for k in keys})
    return row


def recreate_row(folder: Path):
    """The row of one outcome folder, made from what the run wrote there."""
    kim_id = folder.name
    leader = kimcodes.parse_kim_code(kim_id, require_version=True).leader
    spec = edn.load(storage.require_file(folder, "kimspec.edn", kim_id=kim_id))
    pipeline = edn.load(folder / "pipelinespec.edn") if (folder / "pipelinespec.edn").is_file() else {}
    profiling = pipeline.get("profiling", {})
    created = profiling.get("created-at")
    fields = {
        "kim_id": kim_id, "model": _item(Model, spec.get("model")),
        "created_at": datetime.fromisoformat(created) if created else
        datetime.fromtimestamp(folder.stat().st_mtime, tz=UTC),
        "runtime": profiling.get("runtime"), "usertime": profiling.get("usertime"),
        "memmax": profiling.get("memmax"), "provenance": pipeline,
        "environment": _environment(pipeline.get("environment")),
    }
    test = _item(Test, spec.get("test"))
    check = _item(VerificationCheck, spec.get("verification-check") or spec.get("check"))
    if leader == "ER":
        text = (folder / "pipeline.exception").read_text(encoding="utf-8") \
            if (folder / "pipeline.exception").is_file() else "internal: (no pipeline.exception)"
        category, _, message = text.partition(": ")
        if category not in Error.Category.values:
            category, message = Error.Category.INTERNAL, text
        return Error.objects.create(test=test, verification_check=check, category=category,
                                    message=message.strip(), built_item=spec.get("built-item", ""),
                                    **fields)
    instances = edn.load(storage.require_file(folder, "results.edn", kim_id=kim_id))
    instances = instances if isinstance(instances, list) else [instances]
    if leader == "VR":
        grade = next((str(i[k]["source-value"]) for i in instances for k in ("grade", "result")
                      if isinstance(i.get(k), dict)), "")
        return VerificationResult.objects.create(verification_check=check, grade=grade[:4],
                                                 instances=instances, **fields)
    result = TestResult.objects.create(test=test, instances=instances, **fields)
    PropertyValue.objects.bulk_create(PropertyValue.rows_for(result, instances))
    return result


def reconcile_outcome_folders(root: Path | None = None) -> OutcomeReconciliation:
    """Recreate the rows of outcome folders without one; report rows without a folder."""
    root = Path(root or storage.repository_root())
    report = OutcomeReconciliation()
    for leader, table in TABLES.items():
        area = root / leader.lower()
        on_disk = {p.name: p for p in area.iterdir()
                   if p.is_dir() and not p.name.startswith(".")} if area.is_dir() else {}
        known = set(table.objects.values_list("kim_id", flat=True))
        for kim_id in sorted(set(on_disk) - known):
            try:
                with transaction.atomic():
                    recreate_row(on_disk[kim_id])
            except (PipelineError, OSError, ValueError, KeyError, TypeError) as exc:
                report.unreadable.append((str(on_disk[kim_id]), str(exc)))
                continue
            report.recreated.append(kim_id)
            log.info("recreated the row of %s from its folder", kim_id)
        for kim_id in sorted(known - set(on_disk)):
            report.without_folder.append((kim_id, str(area / kim_id)))
    return report
