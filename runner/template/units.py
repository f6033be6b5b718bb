"""Unit conversion for templates (``convert``) and for query() projections in SI."""

from functools import lru_cache

from repository.errors import PipelineTemplateError


@lru_cache(maxsize=1)
def _unit_registry():
    # pint understands the GNU units names KIM uses (angstrom, eV, GPa, eV/angstrom^3, bar, K);
    # imported lazily because building its registry takes a second.
    import pint

    return pint.UnitRegistry()


def convert(value, from_unit, to_unit):
    """``value`` (a number or nested list of numbers) from one unit to another; ``"SI"`` = base units."""
    if from_unit is None or to_unit is None or from_unit == to_unit:
        return value
    if isinstance(value, (list, tuple)):
        return [convert(v, from_unit, to_unit) for v in value]
    registry = _unit_registry()
    try:
        quantity = registry.Quantity(float(value), from_unit)
        converted = quantity.to_base_units() if to_unit == "SI" else quantity.to(to_unit)
    except Exception as exc:  # pint raises several unrelated classes for bad units
        raise PipelineTemplateError(f"cannot convert {value!r} from {from_unit!r} to {to_unit!r}: "
                                    f"{exc}") from exc
    return float(converted.magnitude)
