"""kim-query's named queries (``get_test_result``, ``get_lattice_constant_cubic``, …) answered
from the ``data`` and ``obj`` documents, with kim-query's arguments (lists) and answers.

``method``: OpenKIM names its own drivers (``"relaxation"`` = TD_475411767977, …). A driver
code restricts the answer to that driver's results when this database has the driver; an alias,
or OpenKIM's default code for a driver this database does not have, restricts nothing.
Several matching results are an error, as OpenKIM's; none is an empty answer.
"""

from queryapi.engine import run_query
from queryapi.errors import QueryError
from queryapi.units import convert
from repository import kimcodes
from repository.errors import InvalidKIMID, PipelineSearchError
from repository.models import Model, Test, TestDriver

#: OpenKIM's method aliases and the driver each names.
METHOD_ALIASES = {"relaxation": None, "finite-difference": None}


def _one(value, name: str, kind=str):
    if isinstance(value, list):
        if len(value) != 1:
            raise QueryError(f"{name}: expected a list of one value, not {value!r}")
        value = value[0]
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if not isinstance(value, kind) or isinstance(value, bool):
        raise QueryError(f"{name}: expected {kind.__name__}, not {value!r}")
    return value


def _strings(value, name: str) -> list[str]:
    value = [value] if isinstance(value, str) else value
    if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
        raise QueryError(f"{name}: expected a list of strings, not {value!r}")
    return value


def _resolve(table, text: str, name: str) -> str:
    try:
        return table.objects.resolve(text).kim_id
    except (InvalidKIMID, PipelineSearchError) as exc:
        raise QueryError(f"{name}: {exc.reason}") from exc


def _property_filter(prop: str) -> dict:
    if prop.startswith("tag:"):
        return {"property-id": prop}
    return {"property-id": {"$regex": f"property/{_escape(prop)}$"}}


def _escape(text: str) -> str:
    return "".join(f"\\{c}" if c in ".^$*+?{}[]()|\\" else c for c in text)


def _in_unit(entry: dict, unit, name: str):
    if not isinstance(entry, dict):
        raise QueryError(f"{name}: not a key of the property instance")
    if unit is None:
        return entry.get("source-value")
    if isinstance(unit, str) and unit.upper() == "SI":
        return entry.get("si-value", entry.get("source-value"))
    return convert(entry.get("source-value"), entry.get("source-unit"), unit)


def get_test_result(test, model, prop, keys, units=None):
    test_id = _resolve(Test, _one(test, "test"), "test")
    model_id = _resolve(Model, _one(model, "model"), "model")
    keys = _strings(keys, "keys")
    units = [None] * len(keys) if units is None else (units if isinstance(units, list) else [units])
    if len(units) != len(keys):
        raise QueryError(f"units: {len(keys)} keys but {len(units)} units")
    found = run_query({"database": "data", "query": {
        "meta.runner.kimcode": test_id, "meta.subject.kimcode": model_id,
        **_property_filter(_one(prop, "prop"))}, "sort": "instance-id"})
    return [[_in_unit(doc.get(key), unit, key) for key, unit in zip(keys, units, strict=True)]
            for doc in found.result], found.uuids


def _driver_filter(method: str) -> dict:
    if method in METHOD_ALIASES:
        return {}
    try:
        code = kimcodes.parse_kim_code(method, leader="TD")
    except InvalidKIMID as exc:
        raise QueryError(f"method: {method!r} is neither a method name nor a test driver") from exc
    if not TestDriver.objects.filter(number=code.number).exists():
        return {}  # OpenKIM's default driver, not in this database: any driver's result
    return {"meta.runner.driver.shortcode": f"TD_{code.number}"}


def _crystal(model, crystal, species, prop: str, method, *, temperature=None, pressure=None,
             extra: dict | None = None) -> tuple[list[dict], list[str]]:
    # Returns (documents, result IDs); the named queries answer (value list, result IDs).
    """The one instance of ``prop`` for (model, crystal, species) at (T, p), or none."""
    model_id = _resolve(Model, _one(model, "model"), "model")
    wanted_species = sorted(set(_strings(species, "species")))
    query = {"meta.subject.kimcode": model_id, **_property_filter(prop),
             "short-name.source-value": _one(crystal, "crystal"),
             **_driver_filter(_one(method, "method")), **(extra or {})}
    found = run_query({"database": "data", "query": query, "sort": "meta.created_on"})
    docs = [d for d in found.result
            if sorted(set(d.get("species", {}).get("source-value", []))) == wanted_species
            and _near(d.get("temperature"), temperature) and _near_pressure(d, pressure)]
    results = sorted({d["meta"]["uuid"] for d in docs})
    if len(results) > 1:
        raise QueryError(f"several results match ({', '.join(results)}): name the driver in method")
    return docs, results


def _near(entry, condition) -> bool:
    if condition is None or not isinstance(entry, dict):
        return True  # a property without this key (e.g. cohesive energy at 0 K) is not filtered
    value, unit, tolerance = condition
    return abs(convert(entry.get("si-value", entry.get("source-value")), "K", unit) - value) <= tolerance


def _near_pressure(doc: dict, condition) -> bool:
    stress = doc.get("cauchy-stress")
    if condition is None or not isinstance(stress, dict):
        return True
    value, unit, tolerance = condition
    components = stress.get("si-value") or []
    if len(components) < 3:
        return True
    pressure = -sum(components[:3]) / 3.0  # hydrostatic pressure, Pa (tension positive)
    return abs(convert(pressure, "Pa", unit) - value) <= tolerance


def _conditions(temperature, temperature_units, temperature_tol, pressure, pressure_units,
                pressure_tol):
    return ((_one(temperature, "temperature", float), _one(temperature_units, "temperature_units"),
             _one(temperature_tol, "temperature_tol", float)),
            (_one(pressure, "pressure", float), _one(pressure_units, "pressure_units"),
             _one(pressure_tol, "pressure_tol", float)))


def _values(docs, keys, unit):
    unit = _one(unit, "units")
    if not docs:
        return []
    return [_in_unit(docs[0].get(key), unit, key) for key in keys]


def get_lattice_constant_cubic(model, crystal, species, units, temperature=(0.0,),
                               temperature_units=("K",), temperature_tol=(0.1,), pressure=(0.0,),
                               pressure_units=("MPa",), pressure_tol=(0.1,), method=("relaxation",)):
    t, p = _conditions(list(temperature), list(temperature_units), list(temperature_tol),
                       list(pressure), list(pressure_units), list(pressure_tol))
    docs, uuids = _crystal(model, crystal, species, "structure-cubic-crystal-npt", list(method),
                           temperature=t, pressure=p)
    return _values(docs, ["a"], units), uuids


def get_cohesive_energy_cubic(model, crystal, species, units, method=("relaxation",)):
    docs, uuids = _crystal(model, crystal, species, "cohesive-potential-energy-cubic-crystal",
                           list(method))
    return _values(docs, ["cohesive-potential-energy"], units), uuids


def get_bulk_modulus_isothermal_cubic(model, crystal, species, units, temperature=(0.0,),
                                      temperature_units=("K",), temperature_tol=(0.1,),
                                      pressure=(0.0,), pressure_units=("MPa",), pressure_tol=(0.1,),
                                      method=("finite-difference",)):
    t, p = _conditions(list(temperature), list(temperature_units), list(temperature_tol),
                       list(pressure), list(pressure_units), list(pressure_tol))
    docs, uuids = _crystal(model, crystal, species, "bulk-modulus-isothermal-cubic-crystal-npt",
                           list(method), temperature=t, pressure=p)
    return _values(docs, ["isothermal-bulk-modulus"], units), uuids


def get_elastic_constants_isothermal_cubic(model, crystal, species, units, temperature=(0.0,),
                                           temperature_units=("K",), temperature_tol=(0.1,),
                                           pressure=(0.0,), pressure_units=("MPa",),
                                           pressure_tol=(0.1,), method=("finite-difference",)):
    t, p = _conditions(list(temperature), list(temperature_units), list(temperature_tol),
                       list(pressure), list(pressure_units), list(pressure_tol))
    docs, uuids = _crystal(model, crystal, species, "elastic-constants-isothermal-cubic-crystal-npt",
                           list(method), temperature=t, pressure=p)
    return _values(docs, ["c11", "c12", "c44"], units), uuids


def get_surface_energy_ideal_cubic(model, crystal, species, miller, units,
                                   method=("TD_955413365818",)):
    if not (isinstance(miller, list) and len(miller) == 3 and all(
            isinstance(m, int) and not isinstance(m, bool) for m in miller)):
        raise QueryError(f"miller: expected three integers, not {miller!r}")
    docs, _ = _crystal(model, crystal, species, "surface-energy-ideal-cubic-crystal", list(method),
                       extra={"miller-indices.source-value": {"$size": 3}})
    docs = [d for d in docs if d.get("miller-indices", {}).get("source-value") == miller]
    return _values(docs, ["ideal-surface-energy"], units), sorted({d["meta"]["uuid"] for d in docs})


def get_available_models(species, species_logic=("and",), model_interface=("any",),
                         potential_type=("any",), simulator_name=("any",)):
    """The latest models (extended IDs) that support ``species`` (``"and"``: at least those;
    ``"exact"``: exactly those), of an interface (mo, sm, any), potential and simulator types."""
    wanted = set(_strings(species, "species"))
    logic = _one(list(species_logic), "species_logic")
    interface = _one(list(model_interface), "model_interface")
    if logic not in ("and", "exact"):
        raise QueryError(f"species_logic: expected \"and\" or \"exact\", not {logic!r}")
    if interface not in ("any", "mo", "sm"):
        raise QueryError(f"model_interface: expected \"any\", \"mo\" or \"sm\", not {interface!r}")
    potentials = {p.lower() for p in _strings(list(potential_type), "potential_type")}
    simulators = {s.lower() for s in _strings(list(simulator_name), "simulator_name")}
    types = ["mo", "sm"] if interface == "any" else [interface]
    found = run_query({"database": "obj", "query": {"type": {"$in": types}}})
    models = []
    for doc in found.result:
        supported = set(doc.get("species") or [])
        if not (wanted <= supported if logic == "and" else wanted == supported):
            continue
        if "any" not in potentials and str(doc.get("potential-type", "")).lower() not in potentials:
            continue
        if (doc["type"] == "sm" and "any" not in simulators
                and str(doc.get("simulator-name", "")).lower() not in simulators):
            continue
        models.append(doc["kimcode"])
    return sorted(models), []


def get_reference_data(species, prop, keys, units=None, crystal=None):
    """This site's reference data (RD items) of a property for a set of species: one list of
    key values per instance, as get_test_result answers (not part of kim-query 4.0)."""
    wanted = sorted(set(_strings(species, "species")))
    keys = _strings(keys, "keys")
    units = [None] * len(keys) if units is None else (units if isinstance(units, list) else [units])
    if len(units) != len(keys):
        raise QueryError(f"units: {len(keys)} keys but {len(units)} units")
    query = {"meta.type": "rd", **_property_filter(_one(prop, "prop"))}
    if crystal is not None:
        query["short-name.source-value"] = _one(crystal, "crystal")
    found = run_query({"database": "data", "query": query, "sort": "meta.uuid"})
    docs = [d for d in found.result if sorted(set(
        d.get("species", {}).get("source-value", None) or d["meta"].get("species") or [])) == wanted]
    return ([[_in_unit(d.get(key), unit, key) for key, unit in zip(keys, units, strict=True)]
             for d in docs], sorted({d["meta"]["uuid"] for d in docs}))


#: The named queries, by the endpoint kim-query posts to.
NAMED_QUERIES = {f.__name__: f for f in (
    get_test_result, get_lattice_constant_cubic, get_cohesive_energy_cubic,
    get_bulk_modulus_isothermal_cubic, get_elastic_constants_isothermal_cubic,
    get_surface_energy_ideal_cubic, get_available_models, get_reference_data)}
