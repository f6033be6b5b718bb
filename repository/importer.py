"""Import item folders of a KIM repository (2012 ``metadata.json`` or 2020 ``kimspec.edn``) into the database.

Each item is read and checked in full before anything is written; a bad item is rejected alone.
"""

import json
import logging
import os
import re
import shutil
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import kim_edn
import kim_property
from django.core.exceptions import ValidationError
from django.db import DatabaseError, transaction
from tqdm import tqdm

from kimsite import config
from repository import kimcodes, storage
from repository.errors import InvalidKIMID, PipelineError, PipelineImportError
from repository.models import (
    KIMItem,
    Model,
    ModelDriver,
    Property,
    ReferenceDatum,
    SourceFormat,
    Status,
    Test,
    TestDriver,
    VerificationCheck,
)

logger = logging.getLogger("pipeline.importer")

#: Kind folders in import order: what others point at (drivers, properties) comes first.
IMPORT_ORDER = ("pr", "td", "md", "rd", "mo", "sm", "te", "vc")

#: Kind folder → Django model of its items.
MODEL_FOR_FOLDER = {
    "te": Test,
    "td": TestDriver,
    "mo": Model,
    "sm": Model,
    "md": ModelDriver,
    "vc": VerificationCheck,
    "rd": ReferenceDatum,
    "pr": Property,
}

# 2012 pipeline.in: the test of a @DATA[TE_…][MO_…][PR_…] directive is a dependency.
_DATA_DIRECTIVE_RE = re.compile(r"@DATA\[([^\]]*)\]")
# 2012 Makefile of a driven model: "MODEL_DRIVER_NAME := <MD ID>".
_MAKEFILE_DRIVER_RE = re.compile(r"^\s*MODEL_DRIVER_NAME\s*:?=\s*(\S+)", re.MULTILINE)


@dataclass
class ImportReport:
    """What one import did: KIM IDs created, updated and unchanged, and (path, reason) rejected."""

    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    rejected: list[tuple[Path, str]] = field(default_factory=list)
    #: What repository.installed.register_installed_items() returned, with --kim-collections.
    installed: object = None

    @property
    def ok(self) -> bool:
        return not self.rejected

    def summary(self) -> str:
        return (f"{len(self.created)} created, {len(self.updated)} updated, "
                f"{len(self.unchanged)} unchanged, {len(self.rejected)} rejected")


@dataclass
class ItemSpec:
    """What an item folder says, checked, before anything touches the database."""

    folder: Path
    code: kimcodes.KIMCode
    model_class: type[KIMItem]
    fields: dict
    status: str | None = None
    driver: str | None = None
    dependencies: list[str] = field(default_factory=list)
    property_id: str | None = None
    #: Symlinks leaving the item (inside the repository): copied as files.
    leaving_links: list[Path] = field(default_factory=list)


# ---------------------------------------------------------------------------------------------
# Reading one folder


def _reject(message: str, folder: Path, kim_id: str | None = None) -> PipelineImportError:
    return PipelineImportError(message, path=folder, kim_id=kim_id)


def _load_edn(path: Path, kim_id: str | None):
    try:
        # loads on the text: kim_edn.load(str) takes an unreadable file name for EDN text.
        return kim_edn.loads(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError, OSError) as exc:
        raise _reject(f"{path.name} is not valid EDN: {exc}", path, kim_id) from exc


def _load_json(path: Path, kim_id: str | None):
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError, OSError) as exc:
        raise _reject(f"{path.name} is not valid JSON: {exc}", path, kim_id) from exc


def _require(folder: Path, name: str, kim_id: str, *, executable: bool = False) -> Path:
    path = folder / name
    if not path.is_file():
        raise _reject(f"required file {name} is missing", path, kim_id)
    if executable and not os.access(path, os.X_OK):
        raise _reject(f"{name} is not executable", path, kim_id)
    return path


def _require_runner(folder: Path, kim_id: str) -> None:
    """A 2020 runner is an executable ``runner``, or sources the pipeline builds before the first run."""
    if any((folder / name).is_file() for name in config.SOURCE_BUILD_FILES):
        return
    _require(folder, config.RUNNER_FILE, kim_id, executable=True)


def _text(spec: dict, key: str, where: Path, kim_id: str) -> str:
    value = spec.get(key, "")
    if value is None:
        return ""
    if not isinstance(value, str):
        raise _reject(f"{key!r} must be text, not {type(value).__name__}", where, kim_id)
    return value


def _string_list(spec: dict, key: str, where: Path, kim_id: str) -> list[str]:
    value = spec.get(key) or []
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise _reject(f"{key!r} must be a list of strings, not {value!r}", where, kim_id)
    return list(value)


def _status(spec: dict, where: Path, kim_id: str) -> str | None:
    status = spec.get("status")
    if status is None:
        return None
    if status not in Status.values:
        raise _reject(f"status {status!r} is not one of {', '.join(Status.values)}", where, kim_id)
    return status


def _timeout(spec: dict, where: Path, kim_id: str) -> int | None:
    timeout = spec.get("timeout")
    if timeout is None:
        return None
    if isinstance(timeout, bool) or not isinstance(timeout, int | float) or timeout <= 0:
        raise _reject(f"timeout must be a positive number of seconds, not {timeout!r}", where, kim_id)
    return int(timeout)


def _item_id(text, where: Path, kim_id: str, leader: str, what: str) -> str:
    """A KIM ID the item names (driver, dependency), checked for form and leader."""
    try:
        return str(kimcodes.parse_kim_code(text, leader=leader))
    except InvalidKIMID as exc:
        raise _reject(f"{what} {text!r} is not a {leader} KIM ID: {exc.reason}", where, kim_id) from exc


def check_symlinks(folder: Path, source_root: Path) -> list[Path]:
    """Refuse symlinks that lead out of the repository (or nowhere); return those leaving the item.

    Links leaving the item but staying in the repository are copied as the files they name.
    """
    root = source_root.resolve()
    item = folder.resolve()
    leaving = []
    for path in [folder, *folder.rglob("*")]:
        if not path.is_symlink():
            continue
        target = path.resolve()
        if not target.is_relative_to(root):
            raise _reject(f"symlink leads out of the repository to {target}", path, folder.name)
        if not target.exists():
            raise _reject(f"symlink leads nowhere ({os.readlink(path)})", path, folder.name)
        if path != folder and (os.path.isabs(os.readlink(path)) or not target.is_relative_to(item)):
            leaving.append(path)
    return leaving


def read_item(folder: Path, *, source_root: Path) -> ItemSpec:
    """Read and check one item folder; raise PipelineImportError saying what is wrong and where."""
    folder = Path(folder)
    kind = folder.parent.name
    if kind not in MODEL_FOR_FOLDER:
        raise _reject(f"not in a kind folder ({', '.join(MODEL_FOR_FOLDER)})", folder)
    try:
        code = kimcodes.parse_kim_code(folder.name, require_version=True, require_name=True)
    except InvalidKIMID as exc:
        raise _reject(f"folder name is not a full KIM ID: {exc.reason}", folder) from exc
    if code.leader.lower() != kind:
        raise _reject(f"a {code.leader} item in the {kind}/ folder", folder, folder.name)
    leaving_links = check_symlinks(folder, source_root)
    kim_id = str(code)
    if (folder / config.KIMSPEC_FILE).exists():
        spec = _read_2020(folder, code, kind)
    elif (folder / config.METADATA_INFO_FILE).exists():
        spec = _read_2012(folder, code, kind)
    else:
        raise _reject(f"neither {config.KIMSPEC_FILE} nor {config.METADATA_INFO_FILE} is there",
                      folder, kim_id)
    spec.fields["content_hash"] = storage.folder_hash(folder)
    spec.leaving_links = leaving_links
    return spec


def _read_2020(folder: Path, code: kimcodes.KIMCode, kind: str) -> ItemSpec:
    kim_id = str(code)
    kimspec_path = folder / config.KIMSPEC_FILE
    kimspec = _load_edn(kimspec_path, kim_id)
    if not isinstance(kimspec, dict):
        raise _reject("kimspec.edn is not an EDN map", kimspec_path, kim_id)
    declared = kimspec.get("extended-id")
    if declared != kim_id:
        raise _reject(f"folder name disagrees with kimspec extended-id {declared!r}", folder, kim_id)
    spec = ItemSpec(folder, code, MODEL_FOR_FOLDER[kind], fields={
        "kim_id": kim_id,
        "title": _text(kimspec, "title", kimspec_path, kim_id),
        "description": _text(kimspec, "description", kimspec_path, kim_id),
        "species": _string_list(kimspec, "species", kimspec_path, kim_id),
        "kim_api_version": _text(kimspec, "kim-api-version", kimspec_path, kim_id),
        "metadata": kimspec,
        "source_format": SourceFormat.KIM2020,
    }, status=_status(kimspec, kimspec_path, kim_id))
    fields = spec.fields

    if kind in ("te", "vc"):
        _require_runner(folder, kim_id)
        _require(folder, config.TEMPLATE_FILE, kim_id)
        fields["timeout"] = _timeout(kimspec, kimspec_path, kim_id)
    if kind == "te":
        if kimspec.get("test-driver"):
            spec.driver = _item_id(kimspec["test-driver"], kimspec_path, kim_id, "TD", "test-driver")
        fields["matching_models"] = _string_list(kimspec, "matching-models", kimspec_path, kim_id)
        fields["simulator_name"] = _text(kimspec, "simulator-name", kimspec_path, kim_id)
        dependencies_path = folder / config.DEPENDENCIES_FILE
        if dependencies_path.exists():
            listed = _load_edn(dependencies_path, kim_id)
            if not isinstance(listed, list):
                raise _reject("dependencies.edn is not an EDN list", dependencies_path, kim_id)
            spec.dependencies = [_item_id(text, dependencies_path, kim_id, "TE", "dependency")
                                 for text in listed]
    elif kind == "td":
        _require_runner(folder, kim_id)
        fields["executables"] = _string_list(kimspec, "executables", kimspec_path, kim_id)
    elif kind in ("mo", "sm"):
        if kimspec.get("model-driver"):
            spec.driver = _item_id(kimspec["model-driver"], kimspec_path, kim_id, "MD", "model-driver")
        fields["simulator_name"] = _text(kimspec, "simulator-name", kimspec_path, kim_id)
        compatible = kimspec.get("simulator-potential-compatible?", False)
        if not isinstance(compatible, bool):
            raise _reject("simulator-potential-compatible? must be true or false", kimspec_path, kim_id)
        fields["simulator_compatible_with_standard"] = compatible
    elif kind == "vc":
        category = kimspec.get("category", VerificationCheck.Category.MANDATORY)
        if category not in VerificationCheck.Category.values:
            raise _reject(f"category {category!r} is not one of "
                          f"{', '.join(VerificationCheck.Category.values)}", kimspec_path, kim_id)
        graded = kimspec.get("graded", True)
        if not isinstance(graded, bool):
            raise _reject("graded must be true or false", kimspec_path, kim_id)
        fields["category"], fields["graded"] = category, graded
    elif kind == "pr":
        _read_property(folder, kimspec, spec)
    elif kind == "rd":
        data_path = _require(folder, "data.edn", kim_id)
        data = _load_edn(data_path, kim_id)
        if not isinstance(data, list) or not all(isinstance(i, dict) for i in data):
            raise _reject("data.edn is not a list of property instances (EDN maps)", data_path, kim_id)
        fields["data"] = data
        citation = kimspec.get("citation", kimspec.get("source-citations", ""))
        fields["citation"] = citation if isinstance(citation, str) else json.dumps(citation)
        spec.property_id = _text(kimspec, "property-id", kimspec_path, kim_id) or None
    return spec


def _read_property(folder: Path, kimspec: dict, spec: ItemSpec) -> None:
    kim_id = str(spec.code)
    property_id = kimspec.get("property-id")
    if not isinstance(property_id, str) or "property/" not in property_id:
        raise _reject(f"property-id {property_id!r} is not a tag:…:property/<short-name> id",
                      folder / config.KIMSPEC_FILE, kim_id)
    definition_path = folder / "definition.edn"
    if definition_path.exists():
        definition = _load_edn(definition_path, kim_id)
        if not isinstance(definition, dict):
            raise _reject("definition.edn is not an EDN map", definition_path, kim_id)
        if definition.get("property-id", property_id) != property_id:
            raise _reject(f"definition.edn's property-id {definition.get('property-id')!r} "
                          f"disagrees with kimspec's {property_id!r}", definition_path, kim_id)
    else:
        definition = kim_property.get_properties().get(property_id)
        if definition is None:
            raise _reject(f"no definition.edn and kim-property ships no definition of {property_id}",
                          folder, kim_id)
    spec.fields.update(property_id=property_id, short_name=property_id.rsplit("property/", 1)[1],
                       definition=definition)


def _read_2012(folder: Path, code: kimcodes.KIMCode, kind: str) -> ItemSpec:
    kim_id = str(code)
    metadata_path = folder / config.METADATA_INFO_FILE
    metadata = _load_json(metadata_path, kim_id)
    if not isinstance(metadata, dict):
        raise _reject("metadata.json is not a JSON object", metadata_path, kim_id)
    declared = metadata.get("kim_code")
    if declared is not None and declared != kim_id:
        raise _reject(f"folder name disagrees with metadata kim_code {declared!r}", folder, kim_id)
    spec = ItemSpec(folder, code, MODEL_FOR_FOLDER[kind], fields={
        "kim_id": kim_id,
        "title": _text(metadata, "title", metadata_path, kim_id),
        "description": _text(metadata, "description", metadata_path, kim_id),
        "species": _string_list(metadata, "species", metadata_path, kim_id),
        "kim_api_version": _text(metadata, "kim_api_version", metadata_path, kim_id),
        "metadata": metadata,
        "source_format": SourceFormat.KIM2012,
    }, status=_status(metadata, metadata_path, kim_id))

    if kind in ("te", "td", "vc"):
        # The 2012 executable is named exactly like the folder.
        _require(folder, kim_id, kim_id, executable=True)
    if kind == "te":
        _require(folder, config.OUTPUT_FILE, kim_id)
    if kind in ("te", "vc"):
        # A 2012 check prints its verdict keys as they are: no pipeline.out to map them.
        template = _require(folder, config.INPUT_FILE, kim_id).read_text(encoding="utf-8",
                                                                          errors="replace")
        spec.fields["timeout"] = _timeout(metadata, metadata_path, kim_id)
    if kind == "te":
        drivers = _string_list(metadata, "test_drivers", metadata_path, kim_id)
        if drivers:
            spec.driver = _item_id(drivers[0], metadata_path, kim_id, "TD", "test_drivers[0]")
        spec.dependencies = _data_dependencies(template, folder / config.INPUT_FILE, kim_id)
    elif kind in ("mo", "sm"):
        driver = metadata.get("model_driver")
        makefile = folder / "Makefile"
        if not driver and makefile.is_file():
            found = _MAKEFILE_DRIVER_RE.search(makefile.read_text(encoding="utf-8", errors="replace"))
            driver = found[1] if found else None
        if driver:
            spec.driver = _item_id(driver, metadata_path, kim_id, "MD", "model driver")
    elif kind == "pr":
        property_id = metadata.get("property_id") or metadata.get("property-id")
        if property_id:
            _read_property(folder, {"property-id": property_id}, spec)
    elif kind == "rd":
        spec.fields["data"] = metadata.get("data", [])
        spec.fields["citation"] = _text(metadata, "reference", metadata_path, kim_id)
    return spec


def _data_dependencies(template: str, where: Path, kim_id: str) -> list[str]:
    """The tests named first in ``@DATA[TE_…][MO_…][PR_…]`` directives of a 2012 pipeline.in."""
    found = []
    for text in _DATA_DIRECTIVE_RE.findall(template):
        if kimcodes.is_kim_code(text) and kimcodes.parse_kim_code(text).leader == "TE":
            found.append(_item_id(text, where, kim_id, "TE", "@DATA test"))
    return list(dict.fromkeys(found))


# ---------------------------------------------------------------------------------------------
# Writing one item


def _resolve(model_class, text: str, spec: ItemSpec, what: str):
    """The row a driver or dependency names: that version, or the latest when it has none."""
    found = model_class.objects.matching_code(text).order_by("-version").first()
    code = kimcodes.parse_kim_code(text)
    if found is None and code.name is not None:
        # The lineage and version identify an item; KIM API collections know some items under a
        # second name (LennardJones612__MD_414112407348_003 is LJ__MD_414112407348_003).
        found = model_class.objects.matching_code(str(code.with_name(None))).order_by("-version").first()
        if found is not None:
            logger.info("%s: %s %s is known as %s", spec.code, what, text, found.kim_id)
    if found is None:
        raise _reject(f"{what} {text} is not in the database (import it first)", spec.folder,
                      str(spec.code))
    return found


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
        found = _resolve(Test, text, spec, "dependency: test")
        if found.number == spec.code.number:
            raise _reject(f"depends on its own lineage ({text})", spec.folder, kim_id)
        upstream.append(found)
    item.set_code(kim_id)
    # Lengths and choices checked here, so a bad value is this item's rejection on every database.
    item.full_clean(validate_unique=False, validate_constraints=False)
    item.save()
    if model_class is Test:
        item.depends_on.set(upstream)
    return item, created


def _import_item(folder: Path, *, source_root: Path, pending_models: bool = False):
    """Import one folder; return (item, "created" | "updated" | "unchanged")."""
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


def import_item(folder: Path, *, source_root: Path, pending_models: bool = False) -> KIMItem:
    """Import one item folder of the repository at ``source_root``; raise PipelineImportError if bad.

    Its drivers and dependencies must be in the database already. When the folder is not the
    item's folder in KIM_REPOSITORY_DIR, it is copied there (staged, then renamed).
    """
    return _import_item(Path(folder), source_root=Path(source_root), pending_models=pending_models)[0]


# ---------------------------------------------------------------------------------------------
# Importing a whole repository


def item_folders(source_root: Path) -> list[Path]:
    """Every item folder below ``source_root``, drivers and properties first, tests in dependency order."""
    ordered = []
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
        ordered.extend(_dependency_order(entries) if kind == "te" else entries)
    return ordered


def _declared_dependencies(folder: Path) -> set[str]:
    """Lineage numbers a test folder names, read leniently: only for ordering, read_item checks."""
    numbers = set()
    try:
        if (folder / config.KIMSPEC_FILE).exists():
            path = folder / config.DEPENDENCIES_FILE
            listed = kim_edn.loads(path.read_text(encoding="utf-8")) if path.exists() else []
        else:
            template = (folder / config.INPUT_FILE).read_text(encoding="utf-8", errors="replace")
            listed = _DATA_DIRECTIVE_RE.findall(template)
        for text in listed if isinstance(listed, list) else []:
            if isinstance(text, str) and kimcodes.is_kim_code(text):
                code = kimcodes.parse_kim_code(text)
                if code.leader == "TE":
                    numbers.add(code.number)
    except (ValueError, OSError):
        pass
    return numbers


def _dependency_order(folders: list[Path]) -> list[Path]:
    """Tests after the tests they depend on (by lineage); folders in a cycle come last."""
    by_number: dict[str, list[Path]] = {}
    for folder in folders:
        number = (kimcodes.parse_kim_code(folder.name).number
                  if kimcodes.is_kim_code(folder.name) else folder.name)
        by_number.setdefault(number, []).append(folder)
    # Kahn's algorithm over lineages: a lineage is ready when every lineage it names is done.
    waits_on = {n: set() for n in by_number}
    for number, lineage in by_number.items():
        for folder in lineage:
            waits_on[number] |= (_declared_dependencies(folder) & by_number.keys()) - {number}
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
    # Lineages in a cycle: imported last; their missing dependencies get them rejected.
    ordered.extend(f for n in by_number if remaining[n] > 0 for f in by_number[n])
    return ordered


def _rejection_reason(exc: PipelineError, folder: Path) -> str:
    """The reason, naming the offending file when it is not the item folder itself."""
    where = getattr(exc, "path", None)
    if where is not None and Path(where) != folder:
        return f"{exc.reason} ({where})"
    return exc.reason


def _reason(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        return f"invalid field values: {'; '.join(exc.messages)}"
    if isinstance(exc, DatabaseError):
        return f"the database refused it: {exc}"
    return f"cannot read or copy: {exc}"


def import_repository(source_root: Path | None = None, *, pending_models: bool = False,
                      progress: bool = False, kim_collections: bool = False) -> ImportReport:
    """Import every item folder below ``source_root`` (default KIM_REPOSITORY_DIR), one transaction each."""
    source_root = Path(source_root or storage.repository_root())
    if source_root == storage.repository_root():
        # The pipeline's own repository may simply be new: an empty one imports nothing.
        source_root.mkdir(parents=True, exist_ok=True)
    if not source_root.is_dir():
        raise PipelineImportError("the repository folder does not exist", path=source_root)
    report = ImportReport()
    if kim_collections:
        # Installed drivers first, so repository models may name them.
        from repository.installed import register_installed_items

        report.installed = register_installed_items()
    folders = item_folders(source_root)
    for folder in tqdm(folders, desc="importing", unit="item", disable=not progress):
        try:
            item, action = _import_item(folder, source_root=source_root,
                                        pending_models=pending_models)
        except PipelineError as exc:
            # One bad item must not stop the others; its own transaction has rolled back.
            reason = _rejection_reason(exc, folder)
            report.rejected.append((folder, reason))
            logger.warning("rejected %s: %s", folder, reason)
            continue
        getattr(report, action).append(item.kim_id)
        if action != "unchanged":
            logger.info("%s %s from %s", action, item.kim_id, folder)
    logger.info("import of %s: %s", source_root, report.summary())
    return report
