"""Reference data (RD items) that apply to a test's results: same property, same material.

A reference datum holds property instances; one applies to a result when its identifying
keys (species, crystal structure) hold what the result's first instance holds.
"""

from collections import Counter

from public.plots import Reference
from public.values import is_number
from repository.models import ReferenceDatum

#: Keys that say which material and structure an instance is about.
IDENTIFYING_KEYS = ("species", "short-name")


def _source_value(entry):
    return entry.get("source-value") if isinstance(entry, dict) else entry


def _same(key: str, left, right) -> bool:
    if key == "species" and isinstance(left, list) and isinstance(right, list):
        return Counter(map(str, left)).keys() == Counter(map(str, right)).keys()
    return left == right


def applies(instance: dict, identity: dict) -> bool:
    """Whether a reference instance is about the material ``identity`` (key → value) describes."""
    for key in IDENTIFYING_KEYS:
        if key in identity and key in instance:
            if not _same(key, _source_value(instance[key]), identity[key]):
                return False
    return True


def references_for(property_name: str, key: str, identity: dict, unit: str,
                   species: list[str] | None = None) -> list[tuple[ReferenceDatum, Reference]]:
    """Reference values of ``property_name``/``key`` in ``unit`` for the material ``identity`` describes."""
    found = []
    data = ReferenceDatum.objects.filter(property__short_name=property_name).order_by("kim_id")
    for datum in data:
        if species and datum.species and set(datum.species) != set(species):
            continue
        for instance in datum.data or []:
            entry = instance.get(key) if isinstance(instance, dict) else None
            if not isinstance(entry, dict) or not is_number(entry.get("source-value")):
                continue
            # Drawn on the results' axis only in the same unit (no silent conversion).
            if str(entry.get("source-unit") or "") != unit or not applies(instance, identity):
                continue
            uncertainty = entry.get("source-std-uncert-value")
            found.append((datum, Reference(
                label=datum.kim_id.split("__")[0], value=float(entry["source-value"]),
                uncertainty=float(uncertainty) if is_number(uncertainty) else None)))
    return found
