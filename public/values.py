"""Property values of current results, as the pages and plots read them: one query per question.

A property instance has many keys (a lattice constant's ``a`` beside its ``temperature`` and
``basis-atom-coordinates``); a plot shows one number per result. ``main_key`` picks it: the
key asked for, else the first scalar key that is not a condition of the computation.
"""

from dataclasses import dataclass

from repository.models import PropertyValue, TestResult

#: Keys that state the conditions of a computation, not its outcome.
CONDITION_KEYS = {"temperature", "pressure", "cauchy-stress", "species", "short-name",
                  "space-group", "wyckoff-species", "wyckoff-multiplicity-and-letter",
                  "wyckoff-coordinates", "basis-atom-coordinates"}


def is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def main_key(keys_and_values, wanted: str | None = None) -> str | None:
    """The key a plot shows, from (key, value) pairs in the instance's order."""
    pairs = list(keys_and_values)
    if wanted and any(k == wanted for k, _ in pairs):
        return wanted
    for key, value in pairs:
        if key not in CONDITION_KEYS and is_number(value):
            return key
    return None


@dataclass
class Point:
    """One model's value on one test."""

    model_kim_id: str
    model_title: str
    result_kim_id: str
    value: float
    unit: str


def current_results_of_test(test):
    return TestResult.objects.filter(runner_number=test.number).current()


def points_for_test(test, property_name: str, key: str) -> list[Point]:
    """Every model's value of ``property_name``/``key`` in the current results of ``test``.

    First instance of each result only: one point per model.
    """
    rows = (PropertyValue.objects
            .filter(result__in=current_results_of_test(test).values("pk"),
                    property_name=property_name, key=key)
            .order_by("result__model__kim_id", "instance")
            .values_list("result__model__kim_id", "result__model__title", "result__kim_id",
                         "value", "unit"))
    points, seen = [], set()
    for model_id, title, result_id, value, unit in rows:
        if model_id in seen or not is_number(value):
            continue
        seen.add(model_id)
        points.append(Point(model_id, title, result_id, float(value), unit))
    return points


def properties_of_test(test) -> list[tuple[str, list[tuple[str, object]]]]:
    """(property name, [(key, value), …]) of one current result of ``test``: what it reports."""
    result = current_results_of_test(test).order_by("-created_at").first()
    if result is None:
        return []
    grouped: dict[str, list] = {}
    for name, key, value in (result.values.order_by("instance", "id")
                             .values_list("property_name", "key", "value")):
        grouped.setdefault(name, []).append((key, value))
    return list(grouped.items())


def values_by_result(result_ids) -> dict[int, list[PropertyValue]]:
    """Result pk → its property values, in one query."""
    found: dict[int, list[PropertyValue]] = {}
    for row in PropertyValue.objects.filter(result_id__in=list(result_ids)).order_by("instance", "id"):
        found.setdefault(row.result_id, []).append(row)
    return found
