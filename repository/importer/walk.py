"""Importing a whole repository: its item folders in an order that puts what is named first."""

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

from tqdm import tqdm

from repository import dependencies, kimcodes, storage
from repository.errors import PipelineError, PipelineImportError
from repository.importer.requirements import unmet_requirements
from repository.importer.spec import IMPORT_ORDER
from repository.importer.writing import announce, import_one
from repository.models import SourceFormat

logger = logging.getLogger("pipeline.importer")


@dataclass
class ImportReport:
    """What one import did: KIM IDs created, updated and unchanged, and (path, reason) rejected."""

    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    rejected: list[tuple[Path, str]] = field(default_factory=list)
    #: (KIM ID, warning) of imported items: unmet requirements.txt lines (importer.requirements).
    warnings: list[tuple[str, str]] = field(default_factory=list)
    #: What repository.installed.register_installed_items() returned, with --kim-collections.
    installed: object = None

    @property
    def ok(self) -> bool:
        return not self.rejected

    def summary(self) -> str:
        return (f"{len(self.created)} created, {len(self.updated)} updated, "
                f"{len(self.unchanged)} unchanged, {len(self.rejected)} rejected")


def item_folders(source_root: Path) -> list[Path]:
    """Every item folder below ``source_root``, drivers and properties first, tests in dependency order."""
    return _ordered_folders(source_root)[0]


def _ordered_folders(source_root: Path) -> tuple[list[Path], dict[Path, str]]:
    """item_folders, and the test folders in (or behind) a dependency cycle → why refused."""
    ordered, cycles = [], {}
    for kind in IMPORT_ORDER:
        kind_dir = source_root / kind
        if not kind_dir.is_dir():
            continue
        entries = []
        for entry in sorted(kind_dir.iterdir()):
            if entry.name.startswith("."):
                continue  # staging and moved-aside folders of storage, editor files
            if not entry.is_dir():
                logger.warning("skipping %s: not an item folder", entry)
                continue
            entries.append(entry)
        if kind == "te":
            tests, stuck = _dependency_order(entries)
            ordered.extend(tests + stuck)
            names = ", ".join(sorted(f.name for f in stuck))
            cycles.update({f: f"refused: dependency cycle among {names} (or waiting behind one)"
                           for f in stuck})
        else:
            ordered.extend(entries)
    return ordered, cycles


def _lineage(folder: Path) -> str:
    return kimcodes.parse_kim_code(folder.name).number if kimcodes.is_kim_code(folder.name) else folder.name


def _declared_lineages(folder: Path, by_name: dict[str, set[str]]) -> set[str]:
    """Lineages a test folder names, read leniently: only for ordering, read_item checks."""
    source_format = SourceFormat.KIM2020 if (folder / "kimspec.edn").exists() else SourceFormat.KIM2012
    try:
        found = dependencies.declared_upstream(folder, source_format)
    except (PipelineError, OSError):
        return set()
    numbers = set()
    for upstream in found:
        if kimcodes.is_kim_code(upstream.test):
            numbers.add(kimcodes.parse_kim_code(upstream.test).number)
        else:  # Name__TE_[0-9]{12}: every lineage of that name in this repository
            numbers |= by_name.get(upstream.test.split("__")[0], set())
    return numbers


def _dependency_order(folders: list[Path]) -> tuple[list[Path], list[Path]]:
    """Tests after the tests they depend on (by lineage); and the folders in or behind a cycle."""
    by_number: dict[str, list[Path]] = {}
    by_name: dict[str, set[str]] = {}
    for folder in folders:
        by_number.setdefault(_lineage(folder), []).append(folder)
        by_name.setdefault(folder.name.split("__")[0], set()).add(_lineage(folder))
    # Kahn's algorithm over lineages: a lineage is ready when every lineage it names is done.
    waits_on = {n: set() for n in by_number}
    for number, lineage in by_number.items():
        for folder in lineage:
            waits_on[number] |= (_declared_lineages(folder, by_name) & by_number.keys()) - {number}
    dependents: dict[str, list[str]] = {n: [] for n in by_number}
    for number, upstream in waits_on.items():
        for other in upstream:
            dependents[other].append(number)
    remaining = {n: len(upstream) for n, upstream in waits_on.items()}
    ready = [n for n in by_number if remaining[n] == 0]
    ordered = []
    while ready:
        number = ready.pop(0)
        ordered.extend(by_number[number])
        for dependent in dependents[number]:
            remaining[dependent] -= 1
            if remaining[dependent] == 0:
                ready.append(dependent)
    # Lineages in a cycle (or waiting behind one): imported last, each refused as such.
    return ordered, [f for n in by_number if remaining[n] > 0 for f in by_number[n]]


def _rejection_reason(exc: PipelineError, folder: Path) -> str:
    """The reason, naming the offending file when it is not the item folder itself."""
    where = getattr(exc, "path", None)
    if where is not None and Path(where) != folder:
        return f"{exc.reason} ({where})"
    return exc.reason


#: A staging folder (``.<name>.<random>.partial``) this old was left by a killed writer.
PARTIAL_MAX_AGE = 3600


def clean_partial_folders(root: Path, *, older_than: float = PARTIAL_MAX_AGE) -> list[Path]:
    """Remove the staging folders a killed import or run left below ``root``'s kind folders."""
    removed, now = [], time.time()
    if not root.is_dir():
        return removed
    for kind_dir in (p for p in root.iterdir() if p.is_dir() and not p.is_symlink()):
        for entry in kind_dir.glob(".*.partial"):
            try:
                if entry.is_dir() and not entry.is_symlink() and now - entry.stat().st_mtime > older_than:
                    storage.remove_folder(entry)
                    removed.append(entry)
            except OSError:
                continue
    if removed:
        logger.warning("removed %d staging folders left by killed writers: %s", len(removed),
                       ", ".join(str(p) for p in removed))
    return removed


def import_repository(source_root: Path | None = None, *, pending_models: bool = False,
                      progress: bool = False, kim_collections: bool = False) -> ImportReport:
    """Import every item folder below ``source_root`` (default KIM_REPOSITORY_DIR), one transaction each.

    Afterwards items_imported is sent once, with every item created or updated, in import order.
    """
    source_root = Path(source_root or storage.repository_root())
    if source_root == storage.repository_root():
        # The pipeline's own repository may simply be new: an empty one imports nothing.
        source_root.mkdir(parents=True, exist_ok=True)
    if source_root.is_file():
        raise PipelineImportError("this is a file; give the folder of a KIM repository (the one "
                                  "holding te/, td/, mo/ …)", path=source_root)
    if not source_root.is_dir():
        raise PipelineImportError("the repository folder does not exist", path=source_root)
    if (source_root != storage.repository_root()
            and not any((source_root / kind).is_dir() for kind in IMPORT_ORDER)):
        raise PipelineImportError(f"not a KIM repository: none of the kind folders "
                                  f"{', '.join(k + '/' for k in IMPORT_ORDER)} is in it",
                                  path=source_root)
    report = ImportReport()
    clean_partial_folders(storage.repository_root())
    if kim_collections:
        # Installed drivers first, so repository models may name them.
        from repository.installed import register_installed_items

        report.installed = register_installed_items()
    changed = []
    folders, cycles = _ordered_folders(source_root)
    for folder in tqdm(folders, desc="importing", unit="item", disable=not progress):
        if folder in cycles:
            report.rejected.append((folder, cycles[folder]))
            logger.warning("rejected %s: %s", folder, report.rejected[-1][1])
            continue
        try:
            item, action = import_one(folder, source_root=source_root, pending_models=pending_models)
        except (PipelineError, RecursionError, RuntimeError, ValueError, OSError,
                MemoryError) as exc:
            # One bad item must not stop the others; its own transaction has rolled back. The
            # built-in errors are the net under the checks of read_item: a rejection too.
            reason = (_rejection_reason(exc, folder) if isinstance(exc, PipelineError)
                      else f"cannot be read: {type(exc).__name__}: {exc}")
            report.rejected.append((folder, reason))
            logger.warning("rejected %s: %s", folder, reason)
            continue
        getattr(report, action).append(item.kim_id)
        for warning in unmet_requirements(folder):
            report.warnings.append((item.kim_id, warning))
            logger.warning("%s: %s", item.kim_id, warning)
        if action != "unchanged":
            changed.append(item)
            logger.info("%s %s from %s", action, item.kim_id, folder)
    logger.info("import of %s: %s", source_root, report.summary())
    announce(changed)
    return report
