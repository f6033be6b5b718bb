"""Which tests report a property: read from one result of each test, kept a minute in the cache.

Asking the property values table directly ("every result with property P") reads hundreds of
thousands of rows at full size; a test reports the same properties in every run, so any one
result of its latest version answers for it: the first hit of the pair index, per test.
"""

from django.core.cache import cache
from django.db.models import OuterRef, Subquery

from repository.models import PropertyValue, Test, TestResult

SECONDS = 60


def _sample_results() -> list[int]:
    # No ORDER BY: sorting a test's results to take the newest would read them all.
    one = (TestResult.objects.filter(runner_number=OuterRef("number"),
                                     runner_version=OuterRef("version"))
           .order_by().values("pk")[:1])
    return [pk for pk in Test.objects.latest_versions().annotate(sample=Subquery(one))
            .values_list("sample", flat=True) if pk is not None]


def property_tests() -> dict[str, set[str]]:
    """Property name → numbers of the tests that report it."""
    found = cache.get("public:property-tests")
    if found is None:
        found = {}
        for name, number in (PropertyValue.objects.filter(result_id__in=_sample_results())
                             .values_list("property_name", "result__runner_number").distinct()):
            found.setdefault(name, set()).add(number)
        cache.set("public:property-tests", found, SECONDS)
    return found


def tests_reporting(property_name: str) -> set[str]:
    return property_tests().get(property_name, set())
