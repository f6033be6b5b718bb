"""Writing one checked item: its row and links in one transaction, its folder swapped in last."""

import logging
import shutil
from collections.abc import Iterable
from pathlib import Path

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import DatabaseError, transaction

from repository import dependencies, kimcodes, storage
from repository.errors import (
    InvalidKIMID,
    PipelineDependencyError,
    PipelineImportError,
    PipelineSearchError,
)
from repository.importer.checks import reject
from repository.importer.reading import read_item
from repository.importer.spec import ItemSpec
from repository.models import (
    KIMItem,
    Model,
    ModelDriver,
    Property,
    ReferenceDatum,
    Status,
    Test,
    TestDriver,
)
from repository.signals import items_imported

logger = logging.getLogger("pipeline.importer")


def _resolve(model_class, text: str, spec: ItemSpec, what: str):
    """The row a driver or dependency names: that version, or the latest when it has none."""
    if model_class is Test and not kimcodes.is_kim_code(text):
        # A query() naming its upstream lineage by name only (Name__TE_[0-9]{12}).
        try:
            return dependencies.resolve_test(text)
        except (PipelineSearchError, InvalidKIMID) as exc:
            raise reject(f"{what} {text} is not in the database (import it first)", spec.folder,
                         str(spec.code)) from exc
    found = model_class.objects.matching_code(text).order_by("-version").first()
    code = kimcodes.parse_kim_code(text)
    if found is None and code.name is not None:
        # The lineage and version identify an item; KIM API collections know some items under a
        # second name (LennardJones612__MD_414112407348_003 is LJ__MD_414112407348_003).
        found = model_class.objects.matching_code(str(code.with_name(None))).order_by("-version").first()
        if found is not None:
            logger.info("%s: %s %s is known as %s", spec.code, what, text, found.kim_id)
    if found is None:
        raise reject(f"{what} {text} is not in the database (import it first)", spec.folder,
                     str(spec.code))
    return found


def _check_graph(item: Test, spec: ItemSpec) -> None:
    """Refuse a cycle (a new version can close one) or too deep a chain above this test."""
    try:
        dependencies.check_graph(item, Test.latest_upstream, bound=settings.PIPELINE_MAX_DEPENDENCY_DEPTH)
    except PipelineDependencyError as exc:
        raise reject(f"refused: {exc.reason}", spec.folder, str(spec.code)) from exc


def _copy_folder(folder: Path, final: Path, leaving: Iterable[Path]) -> Path:
    """Copy an item folder to a staging folder beside ``final``; links out of the item become files."""
    staging = storage.staging_folder(final)
    try:
        shutil.copytree(folder, staging, symlinks=True, dirs_exist_ok=True)
        for link in leaving:
            copied = staging / link.relative_to(folder)
            copied.unlink()
            target = link.resolve()
            if target.is_dir():
                shutil.copytree(target, copied, symlinks=False)
            else:
                shutil.copy2(target, copied)
    except BaseException:
        storage.remove_folder(staging)
        raise
    return staging


def _write_rows(spec: ItemSpec, *, pending_models: bool):
    """Create or update the row of one item (inside the caller's transaction)."""
    model_class = spec.model_class
    kim_id = str(spec.code)
    item = model_class.objects.filter(kim_id=kim_id).first()
    created = item is None
    if created:
        item = model_class(kim_id=kim_id)
    for name, value in spec.fields.items():
        setattr(item, name, value)
    if spec.status is not None:
        item.status = spec.status
    elif created:
        item.status = Status.PENDING if pending_models and model_class is Model else Status.APPROVED
    elif pending_models and model_class is Model:
        item.status = Status.PENDING

    if model_class is Test:
        item.driver = _resolve(TestDriver, spec.driver, spec, "test driver") if spec.driver else None
    elif model_class is Model:
        item.driver = _resolve(ModelDriver, spec.driver, spec, "model driver") if spec.driver else None
    elif model_class is ReferenceDatum:
        item.property = (Property.objects.filter(property_id=spec.property_id).order_by("-version").first()
                         if spec.property_id else None)
        if spec.property_id and item.property is None:
            logger.info("%s: property %s has no PR item; the reference datum keeps no link",
                        kim_id, spec.property_id)
    upstream = []
    for text in spec.dependencies:
        if kimcodes.is_kim_code(text) and kimcodes.parse_kim_code(text).number == spec.code.number:
            raise reject(f"refused: dependency cycle: {kim_id} depends on its own lineage "
                         f"({text})", spec.folder, kim_id)
        found = _resolve(Test, text, spec, "dependency: test")
        if found.number == spec.code.number:
            raise reject(f"depends on its own lineage ({text})", spec.folder, kim_id)
        upstream.append(found)
    item.set_code(kim_id)
    # Lengths and choices checked here, so a bad value is this item's rejection on every database.
    item.full_clean(validate_unique=False, validate_constraints=False)
    item.save()
    if model_class is Test:
        item.depends_on.set(upstream)
        _check_graph(item, spec)
    return item, created


def _reason(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        return f"invalid field values: {'; '.join(exc.messages)}"
    if isinstance(exc, DatabaseError):
        return f"the database refused it: {exc}"
    return f"cannot read or copy: {exc}"


def import_one(folder: Path, *, source_root: Path, pending_models: bool = False):
    """Import one folder; return (item, "created" | "updated" | "unchanged"). Sends no signal."""
    try:
        return _import_checked(folder, source_root=source_root, pending_models=pending_models)
    except (ValidationError, DatabaseError, OSError) as exc:
        kim_id = folder.name if kimcodes.is_kim_code(folder.name) else None
        raise PipelineImportError(_reason(exc), path=folder, kim_id=kim_id) from exc


def _import_checked(folder: Path, *, source_root: Path, pending_models: bool):
    spec = read_item(folder, source_root=source_root)
    kim_id = str(spec.code)
    final = storage.item_path(kim_id)
    in_place = folder.resolve() == final.resolve()
    existing = spec.model_class.objects.filter(kim_id=kim_id).first()
    if (existing is not None and existing.content_hash == spec.fields["content_hash"]
            and (in_place or final.is_dir())):
        return existing, "unchanged"

    staging = None if in_place else _copy_folder(folder, final, spec.leaving_links)
    aside, swapped = None, False
    try:
        with transaction.atomic():
            item, created = _write_rows(spec, pending_models=pending_models)
            if staging is not None:
                # Last step inside the transaction: a failed swap rolls the rows back.
                aside, swapped = storage.swap_in_folder(staging, final), True
    except BaseException:
        if swapped:
            storage.restore_folder(final, aside)
        elif staging is not None:
            storage.remove_folder(staging)
        raise
    if aside is not None:
        storage.remove_folder(aside)
    return item, "created" if created else "updated"


def announce(items: list[KIMItem]) -> None:
    """Send items_imported for committed items; a failing receiver is logged, the import stands."""
    if not items:
        return
    for receiver, outcome in items_imported.send_robust(sender=KIMItem, items=items):
        if isinstance(outcome, Exception):
            logger.error("items_imported receiver %s failed: %s", getattr(receiver, "__qualname__",
                         receiver), outcome, exc_info=outcome)


def import_item(folder: Path, *, source_root: Path, pending_models: bool = False) -> KIMItem:
    """Import one item folder of the repository at ``source_root``; raise PipelineImportError if bad.

    Its drivers and dependencies must be in the database already. When the folder is not the
    item's folder in KIM_REPOSITORY_DIR, it is copied there (staged, then renamed).
    """
    item, action = import_one(Path(folder), source_root=Path(source_root), pending_models=pending_models)
    if action != "unchanged":
        announce([item])
    return item
