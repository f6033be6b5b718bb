"""Reading a 2020 item folder (``kimspec.edn``), and a property's definition (both formats)."""

import json
from pathlib import Path

import kim_property

from kimsite import config
from repository import kimcodes
from repository.importer import checks
from repository.importer.checks import reject
from repository.importer.spec import MODEL_FOR_FOLDER, ItemSpec
from repository.models import SourceFormat, VerificationCheck


def read_2020(folder: Path, code: kimcodes.KIMCode, kind: str) -> ItemSpec:
    kim_id = str(code)
    kimspec_path = folder / config.KIMSPEC_FILE
    kimspec = checks.load_edn(kimspec_path, kim_id)
    if not isinstance(kimspec, dict):
        raise reject("kimspec.edn is not an EDN map", kimspec_path, kim_id)
    declared = kimspec.get("extended-id")
    if declared != kim_id:
        raise reject(f"folder name disagrees with kimspec extended-id {declared!r}", folder, kim_id)
    spec = ItemSpec(folder, code, MODEL_FOR_FOLDER[kind], fields={
        "kim_id": kim_id,
        "title": checks.text(kimspec, "title", kimspec_path, kim_id),
        "description": checks.text(kimspec, "description", kimspec_path, kim_id),
        "species": checks.species(kimspec, "species", kimspec_path, kim_id,
                                  required=kind in ("te", "mo", "sm")),
        "kim_api_version": checks.kim_api_version(kimspec, "kim-api-version", kimspec_path, kim_id),
        "metadata": kimspec,
        "source_format": SourceFormat.KIM2020,
    }, status=checks.status(kimspec, kimspec_path, kim_id))
    fields = spec.fields

    if kind in ("te", "vc"):
        checks.require_runner(folder, kim_id)
        checks.require(folder, config.TEMPLATE_FILE, kim_id)
        fields["timeout"] = checks.timeout(kimspec, kimspec_path, kim_id)
    if kind == "te":
        if kimspec.get("test-driver"):
            spec.driver = checks.item_id(kimspec["test-driver"], kimspec_path, kim_id, "TD",
                                         "test-driver")
        fields["matching_models"] = checks.string_list(kimspec, "matching-models", kimspec_path, kim_id)
        fields["simulator_name"] = checks.text(kimspec, "simulator-name", kimspec_path, kim_id)
        # dependencies.edn and the template's literal references: what the runner will wait for.
        spec.dependencies = checks.upstream_tests(folder, SourceFormat.KIM2020, kim_id)
    elif kind == "td":
        checks.require_runner(folder, kim_id)
        fields["executables"] = checks.string_list(kimspec, "executables", kimspec_path, kim_id)
    elif kind in ("mo", "sm"):
        if kimspec.get("model-driver"):
            spec.driver = checks.item_id(kimspec["model-driver"], kimspec_path, kim_id, "MD",
                                         "model-driver")
        fields["simulator_name"] = checks.text(kimspec, "simulator-name", kimspec_path, kim_id)
        compatible = kimspec.get("simulator-potential-compatible?", False)
        if not isinstance(compatible, bool):
            raise reject("simulator-potential-compatible? must be true or false", kimspec_path, kim_id)
        fields["simulator_compatible_with_standard"] = compatible
    elif kind == "vc":
        category = kimspec.get("category", VerificationCheck.Category.MANDATORY)
        if category not in VerificationCheck.Category.values:
            raise reject(f"category {category!r} is not one of "
                         f"{', '.join(VerificationCheck.Category.values)}", kimspec_path, kim_id)
        graded = kimspec.get("graded", True)
        if not isinstance(graded, bool):
            raise reject("graded must be true or false", kimspec_path, kim_id)
        fields["category"], fields["graded"] = category, graded
    elif kind == "pr":
        read_property(folder, kimspec, spec)
    elif kind == "rd":
        data_path = checks.require(folder, "data.edn", kim_id)
        data = checks.load_edn(data_path, kim_id)
        if not isinstance(data, list) or not all(isinstance(i, dict) for i in data):
            raise reject("data.edn is not a list of property instances (EDN maps)", data_path, kim_id)
        fields["data"] = data
        citation = kimspec.get("citation", kimspec.get("source-citations", ""))
        fields["citation"] = citation if isinstance(citation, str) else json.dumps(citation)
        spec.property_id = checks.text(kimspec, "property-id", kimspec_path, kim_id) or None
    return spec


def read_property(folder: Path, kimspec: dict, spec: ItemSpec) -> None:
    """A property's id and definition: its own definition.edn, else the one kim-property ships."""
    kim_id = str(spec.code)
    property_id = kimspec.get("property-id")
    if not isinstance(property_id, str) or "property/" not in property_id:
        raise reject(f"property-id {property_id!r} is not a tag:…:property/<short-name> id",
                     folder / config.KIMSPEC_FILE, kim_id)
    definition_path = folder / "definition.edn"
    if definition_path.exists():
        definition = checks.load_edn(definition_path, kim_id)
        if not isinstance(definition, dict):
            raise reject("definition.edn is not an EDN map", definition_path, kim_id)
        if definition.get("property-id", property_id) != property_id:
            raise reject(f"definition.edn's property-id {definition.get('property-id')!r} "
                         f"disagrees with kimspec's {property_id!r}", definition_path, kim_id)
    else:
        definition = kim_property.get_properties().get(property_id)
        if definition is None:
            raise reject(f"no definition.edn and kim-property ships no definition of {property_id}",
                         folder, kim_id)
    spec.fields.update(property_id=property_id, short_name=property_id.rsplit("property/", 1)[1],
                       definition=definition)
