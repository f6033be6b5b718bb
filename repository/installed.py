"""Rows for what the KIM API has installed (system and pipeline collections): models, simulator models, drivers.

Read from each item's kimspec.edn through kimpy in one pass and written in bulk, so registering
the ~560 items of openkim-models takes well under a second and a second run changes nothing.
"""

import logging
import time

from django.db import transaction

from repository import kimapi, kimcodes
from repository.errors import InvalidKIMID
from repository.importer.writing import announce
from repository.models import Model, ModelDriver, SourceFormat

log = logging.getLogger("pipeline.kimapi")

_LEADER_FOR_KIND = {"model-driver": "MD", "portable-model": "MO", "simulator-model": "SM"}
#: Fields registration owns on rows of installed items.
_MODEL_FIELDS = ["title", "description", "species", "metadata", "kim_api_version", "driver",
                 "simulator_name", "simulator_compatible_with_standard", "collection",
                 "source_format"]
_DRIVER_FIELDS = ["title", "description", "metadata", "kim_api_version", "collection",
                  "source_format"]


def register_installed_items() -> dict[str, int]:
    """Create or update a row for every installed model, simulator model and model driver.

    Items whose KIM API name is not a full KIM ID (the KIM API's examples such as
    ``ex_model_Ar_P_LJ``) are skipped and counted. Rows imported from source keep their
    metadata; only their ``collection`` is updated. Installed rows whose item has gone get
    an empty ``collection``.
    """
    started = time.perf_counter()
    items = kimapi.installed_items(with_metadata=True)
    counts = {"model-drivers": 0, "portable-models": 0, "simulator-models": 0,
              "created": 0, "updated": 0, "unchanged": 0, "skipped": 0, "uninstalled": 0}
    by_code, skipped = {}, []
    # With metadata first: of two names for one KIM code, the one that describes itself wins.
    for item in sorted(items, key=lambda i: i.metadata is None):
        try:
            code = kimcodes.parse_kim_code(item.name, leader=_LEADER_FOR_KIND[item.kind],
                                           require_version=True, require_name=True)
        except InvalidKIMID:
            skipped.append(item.name)
            continue
        key = (code.leader, code.number, code.version)
        if key in by_code:
            # e.g. LennardJones612__MD_414112407348_003 (KIM API example) beside LJ__MD_414112407348_003:
            # one row per (leader, number, version).
            log.info("%s is another name of %s: not registered", item.name, by_code[key].name)
            skipped.append(item.name)
            continue
        by_code[key] = item
    usable = list(by_code.values())
    counts["skipped"] = len(skipped)
    if skipped:
        log.info("not registered (not KIM IDs, or second names): %s", ", ".join(sorted(skipped)))
    # Items without kimspec.edn declare no species: ask the KIM API itself (one worker, few items).
    undeclared = [i.name for i in usable if i.metadata is None and i.kind != "model-driver"]
    created_species = {name: list(check.species)
                       for name, check in kimapi.check_models(undeclared).items()} if undeclared else {}
    api_version = ".".join(kimapi.kim_api_version().split(".")[:2])
    changed: list = []
    with transaction.atomic():
        drivers = [i for i in usable if i.kind == "model-driver"]
        changed += _register(ModelDriver, drivers, _DRIVER_FIELDS, counts, api_version, {}, {})
        counts["model-drivers"] = len(drivers)
        # Keyed by the short code: a model may name its driver by another name of the same item.
        driver_rows = {f"MD_{number}_{version:03d}": pk for number, version, pk
                       in ModelDriver.objects.values_list("number", "version", "pk")}
        models = [i for i in usable if i.kind != "model-driver"]
        changed += _register(Model, models, _MODEL_FIELDS, counts, api_version, driver_rows,
                             created_species)
        counts["portable-models"] = sum(i.kind == "portable-model" for i in models)
        counts["simulator-models"] = sum(i.kind == "simulator-model" for i in models)
        present = {i.name for i in usable}
        for row_class in (Model, ModelDriver):
            gone = (row_class.objects.filter(source_format=SourceFormat.INSTALLED)
                    .exclude(collection="").exclude(kim_id__in=present))
            counts["uninstalled"] += gone.update(collection="")
    # bulk_create and bulk_update send no post_save: say what changed as an import does, so
    # the receivers (the query API's obj documents) see the installed items too.
    announce(changed)
    log.info("registered installed KIM API items in %.2f s: %s", time.perf_counter() - started, counts)
    return counts


def _register(row_class, items, fields, counts, api_version, driver_rows, created_species) -> list:
    """Create or update the rows of ``items``; return the rows created or changed."""
    codes = {item.name: kimcodes.parse_kim_code(item.name) for item in items}
    existing = {(row.leader, row.number, row.version): row for row in
                row_class.objects.filter(number__in={c.number for c in codes.values()})}
    to_create, to_update = [], []
    for item in items:
        code = codes[item.name]
        row = existing.get((code.leader, code.number, code.version))
        if row is not None and row.kim_id != item.name:
            log.info("%s is already registered as %s: left as it is", item.name, row.kim_id)
            counts["unchanged"] += 1
            continue
        if row is not None and row.source_format != SourceFormat.INSTALLED:
            # Imported from source: the folder's kimspec is the truth; only say where it is installed.
            if row.collection != item.collection:
                row.collection = item.collection
                to_update.append(row)
            else:
                counts["unchanged"] += 1
            continue
        wanted = _fields_of(row_class, item, api_version, driver_rows, created_species)
        if row is None:
            row = row_class(kim_id=item.name, **wanted)
            row.set_code(item.name)  # bulk_create skips save(): fill the ID's parts here
            if row_class is Model:
                row.kind = Model.Kind.SIMULATOR if row.leader == "SM" else Model.Kind.PORTABLE
            to_create.append(row)
            continue
        changed = False
        for name, value in wanted.items():
            if getattr(row, name) != value:
                setattr(row, name, value)
                changed = True
        if changed:
            to_update.append(row)
        else:
            counts["unchanged"] += 1
    row_class.objects.bulk_create(to_create, batch_size=500)
    if to_update:
        row_class.objects.bulk_update(to_update, fields, batch_size=500)
    counts["created"] += len(to_create)
    counts["updated"] += len(to_update)
    return to_create + to_update


def _fields_of(row_class, item, api_version, driver_rows, created_species) -> dict:
    spec = item.metadata
    fields = {"collection": item.collection, "source_format": SourceFormat.INSTALLED}
    if spec is None:
        # Built against this KIM API (it loads here), but it declares nothing else.
        fields.update(title=item.name, description="", metadata={}, kim_api_version=api_version)
    else:
        fields.update(title=str(spec.get("title", ""))[:300],
                      description=str(spec.get("description", "")),
                      metadata=spec, kim_api_version=str(spec.get("kim-api-version", "")))
    if row_class is Model:
        spec = spec or {}
        species = spec.get("species") if "species" in spec else created_species.get(item.name, [])
        fields.update(
            species=list(species),
            driver_id=driver_rows.get(_short_code(spec.get("model-driver"))),
            simulator_name=str(spec.get("simulator-name", "")),
            # Two spellings: the importer's flag, and openkim-models' run-compatibility.
            simulator_compatible_with_standard=bool(
                spec.get("simulator-potential-compatible?")
                or spec.get("run-compatibility") == "portable-models"),
        )
    return fields


def _short_code(kim_id) -> str | None:
    try:
        code = kimcodes.parse_kim_code(kim_id, require_version=True)
    except InvalidKIMID:
        return None
    return f"{code.short}_{code.version:03d}"
