"""Reading a 2012 item folder (``metadata.json``, the executable named like the folder)."""

import re
from pathlib import Path

from kimsite import config
from repository import kimcodes
from repository.importer import checks
from repository.importer.checks import reject
from repository.importer.read_2020 import read_property
from repository.importer.spec import MODEL_FOR_FOLDER, ItemSpec
from repository.models import SourceFormat

# 2012 Makefile of a driven model: "MODEL_DRIVER_NAME := <MD ID>".
_MAKEFILE_DRIVER_RE = re.compile(r"^\s*MODEL_DRIVER_NAME\s*:?=\s*(\S+)", re.MULTILINE)


def read_2012(folder: Path, code: kimcodes.KIMCode, kind: str) -> ItemSpec:
    kim_id = str(code)
    metadata_path = folder / config.METADATA_INFO_FILE
    metadata = checks.load_json(metadata_path, kim_id)
    if not isinstance(metadata, dict):
        raise reject("metadata.json is not a JSON object", metadata_path, kim_id)
    declared = metadata.get("kim_code")
    if declared is not None and declared != kim_id:
        raise reject(f"folder name disagrees with metadata kim_code {declared!r}", folder, kim_id)
    spec = ItemSpec(folder, code, MODEL_FOR_FOLDER[kind], fields={
        "kim_id": kim_id,
        "title": checks.text(metadata, "title", metadata_path, kim_id),
        "description": checks.text(metadata, "description", metadata_path, kim_id),
        "species": checks.species(metadata, "species", metadata_path, kim_id,
                                  required=kind in ("te", "mo", "sm")),
        "kim_api_version": checks.kim_api_version(metadata, "kim_api_version", metadata_path, kim_id),
        "metadata": metadata,
        "source_format": SourceFormat.KIM2012,
    }, status=checks.status(metadata, metadata_path, kim_id))

    if kind in ("te", "td", "vc"):
        # The 2012 executable is named exactly like the folder.
        checks.require(folder, kim_id, kim_id, executable=True)
    if kind == "te":
        checks.require(folder, config.OUTPUT_FILE, kim_id)
    if kind in ("te", "vc"):
        # A 2012 check prints its verdict keys as they are: no pipeline.out to map them.
        checks.require(folder, config.INPUT_FILE, kim_id)
        spec.fields["timeout"] = checks.timeout(metadata, metadata_path, kim_id)
    if kind == "te":
        drivers = checks.string_list(metadata, "test_drivers", metadata_path, kim_id)
        if drivers:
            spec.driver = checks.item_id(drivers[0], metadata_path, kim_id, "TD", "test_drivers[0]")
        # @DATA[TE][MO][PR] of pipeline.in: what the runner will wait for.
        spec.dependencies = checks.upstream_tests(folder, SourceFormat.KIM2012, kim_id)
    elif kind in ("mo", "sm"):
        driver = metadata.get("model_driver")
        makefile = folder / "Makefile"
        if not driver and makefile.is_file():
            found = _MAKEFILE_DRIVER_RE.search(makefile.read_text(encoding="utf-8", errors="replace"))
            driver = found[1] if found else None
        if driver:
            spec.driver = checks.item_id(driver, metadata_path, kim_id, "MD", "model driver")
    elif kind == "pr":
        property_id = metadata.get("property_id") or metadata.get("property-id")
        if property_id:
            read_property(folder, {"property-id": property_id}, spec)
    elif kind == "rd":
        spec.fields["data"] = metadata.get("data", [])
        spec.fields["citation"] = checks.text(metadata, "reference", metadata_path, kim_id)
    return spec
