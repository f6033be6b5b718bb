"""Which tests report a property: read from one result of each test, kept ten minutes in the cache.

Asking the property values table directly ("every result with property P") reads hundreds of
thousands of rows at full size; a test reports the same properties in every run, so any one
result of its latest version answers for it: the first hit of the pair index, per test.
"""

from django.core.cache import cache
from django.db.models import OuterRef, Subquery

from repository.models import PropertyValue, Test, TestResult

#: A new test shows on its properties' pages within this many seconds of its first result.
SECONDS = 600


def _sample_results() -> dict[int, str]:
    """Result pk → its test's number, one result per latest test."""
    # No ORDER BY: sorting a test's results to take the newest would read them all.
    one = (TestResult.objects.filter(runner_number=OuterRef("number"),
                                     runner_version=OuterRef("version"))
           .order_by().values("pk")[:1])
    rows = (Test.objects.latest_versions().annotate(sample=Subquery(one)).order_by()
            .values_list("sample", "number"))
    return {pk: number for pk, number in rows if pk is not None}


def property_tests() -> dict[str, set[str]]:
    """Property name → numbers of the tests that report it."""
    found = cache.get("public:property-tests")
    if found is None:
        found = {}
        samples = _sample_results()
        # No join back to the results: the sample already says whose test each one is.
        for result_id, name in (PropertyValue.objects.filter(result_id__in=list(samples))
                                .order_by().values_list("result_id", "property_name").distinct()):
            found.setdefault(name, set()).add(samples[result_id])
        cache.set("public:property-tests", found, SECONDS)
    return found


def tests_reporting(property_name: str) -> set[str]:
    return property_tests().get(property_name, set())
