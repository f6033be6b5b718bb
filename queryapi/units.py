"""Unit conversion with GNU units, invoked as kim-tools' ``kimunits`` does (OpenKIM's pipeline):
``convert`` for templates and named queries, ``add_si`` for the ``si-value`` of every stored key.

kim_tools.kimunits itself is not imported: importing the kim_tools package takes seconds (it
loads ase, spglib, pymatgen), and it spawns one process per value. A linear conversion's factor
is asked of GNU units once per unit pair and kept.
"""

import logging
import re
import shutil
import subprocess
from functools import lru_cache

from queryapi.errors import UnitConversionError

logger = logging.getLogger("pipeline.queryapi")

#: Units GNU units knows as functions (an offset, not a factor): converted value by value.
TEMPERATURE_FUNCTION_UNITS = ("degC", "tempC", "degF", "tempF")

#: source key → SI key, as kim_tools.kimunits.add_si_units names them.
SI_KEYS = {
    "source-value": "si-value",
    "source-std-uncert-value": "si-std-uncert-value",
    "source-expand-uncert-value": "si-expand-uncert-value",
    "source-asym-std-uncert-neg": "si-asym-std-uncert-neg",
    "source-asym-std-uncert-pos": "si-asym-std-uncert-pos",
    "source-asym-expand-uncert-neg": "si-asym-expand-uncert-neg",
    "source-asym-expand-uncert-pos": "si-asym-expand-uncert-pos",
}

_OUTPUT = re.compile(r"(?P<value>[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?)(?: (?P<unit>.+))?")


def _units_program() -> str:
    for name in ("units", "gunits"):
        if shutil.which(name):
            return name
    raise UnitConversionError("GNU units is not installed (apt-get install units)")


def _gnu_units(value: float, from_unit: str, to_unit: str | None) -> tuple[float, str]:
    """One call of GNU units: ``value`` in ``from_unit`` → (value, unit); SI when to_unit is None."""
    sign = -1.0 if value < 0 else 1.0
    magnitude = repr(abs(float(value)))
    expression = (f"{from_unit}({magnitude})" if from_unit in TEMPERATURE_FUNCTION_UNITS
                  else f"{magnitude} {from_unit}")
    args = [_units_program(), "-o", "%1.15e", "-qt1", expression]
    if to_unit:
        args.append(to_unit)
    try:
        output = subprocess.run(args, capture_output=True, text=True, timeout=10, check=True).stdout
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as exc:
        raise UnitConversionError(f"cannot convert {value!r} from {from_unit!r} to "
                                  f"{to_unit or 'SI'!r}") from exc
    found = _OUTPUT.match(output.strip())
    if not found:
        raise UnitConversionError(f"cannot convert {value!r} from {from_unit!r} to "
                                  f"{to_unit or 'SI'!r}: GNU units said {output.strip()!r}")
    return sign * float(found["value"]), found["unit"] or to_unit or ""


@lru_cache(maxsize=1024)
def _factor(from_unit: str, to_unit: str | None) -> tuple[float, str]:
    """(factor, unit) of a linear conversion, asked once."""
    zero, _ = _gnu_units(0.0, from_unit, to_unit)
    factor, unit = _gnu_units(1.0, from_unit, to_unit)
    if zero != 0.0:
        raise UnitConversionError(f"{from_unit!r} to {to_unit or 'SI'!r} is not a factor")
    return factor, unit


def _is_si(unit) -> bool:
    return isinstance(unit, str) and unit.upper() == "SI"


def _convert_one(value, from_unit: str, to_unit: str | None):
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise UnitConversionError(f"cannot convert {value!r}: not a number")
    if from_unit in TEMPERATURE_FUNCTION_UNITS or to_unit in TEMPERATURE_FUNCTION_UNITS:
        return _gnu_units(value, from_unit, to_unit)[0]
    return value * _factor(from_unit, to_unit)[0]


def convert(value, from_unit, to_unit):
    """``value`` (a number or nested lists of numbers) from ``from_unit`` to ``to_unit``.

    ``"SI"`` (any case) means SI base units; no unit on either side leaves the value as it is.
    """
    if from_unit is None or to_unit is None or from_unit == to_unit or from_unit in ("1", ""):
        return value
    target = None if _is_si(to_unit) else str(to_unit)
    if isinstance(value, (list, tuple)):
        return [convert(v, from_unit, to_unit) for v in value]
    return _convert_one(value, str(from_unit), target)


def si_unit(from_unit: str) -> str:
    return _factor(from_unit, None)[1] if from_unit not in TEMPERATURE_FUNCTION_UNITS else "K"


def add_si(instance: dict) -> dict:
    """A property instance with ``si-unit`` and the ``si-*`` of each ``source-*`` of every key
    that has a ``source-unit`` (kim_tools.kimunits.add_si_units); a unitless key gets its
    ``si-value`` equal to its source value, so ``<key>.si-value`` always answers."""
    answer = {}
    for name, entry in instance.items():
        if not isinstance(entry, dict) or "source-value" not in entry:
            answer[name] = entry
            continue
        entry = dict(entry)
        unit = entry.get("source-unit")
        try:
            for source_key, si_key in SI_KEYS.items():
                if source_key in entry:
                    entry[si_key] = (convert(entry[source_key], unit, "SI") if unit
                                     else entry[source_key])
            if unit:
                entry["si-unit"] = si_unit(unit)
        except UnitConversionError as exc:
            # kim-property does not check units against GNU units: keep the key, say why.
            logger.warning("no si-value for %s: %s", name, exc)
        answer[name] = entry
    return answer
