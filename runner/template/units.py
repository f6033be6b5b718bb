"""Unit conversion for templates (``convert``): the query API's, GNU units as OpenKIM converts,
so ``convert()``, ``get_test_result`` and the stored ``si-value``s agree."""

from queryapi.errors import UnitConversionError
from queryapi.units import convert as _convert
from repository.errors import PipelineTemplateError


def convert(value, from_unit, to_unit):
    """``value`` (a number or nested list of numbers) from one unit to another; ``"SI"`` = base units."""
    try:
        return _convert(value, from_unit, to_unit)
    except UnitConversionError as exc:
        raise PipelineTemplateError(exc.reason) from exc
