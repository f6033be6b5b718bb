"""Which tests report a property: kept in ``ReportedProperty``, sampled once per test version.

Asking the property values table directly ("every result with property P") reads hundreds of
thousands of rows at full size; a test reports the same properties in every run, so any one
result of its latest version answers for it. ``refresh`` samples the latest test versions the
table does not know yet (one index probe each, only for those), so a page's cost does not grow
with the results: at 2,000 tests known it is one anti-join over the tests table. No hook in
the runner is needed: a new test shows on its properties' pages at the first visit after its
first result.
"""

from django.db.models import Exists, OuterRef, Subquery

from public.models import ReportedProperty
from repository.models import PropertyValue, Test, TestResult


def _unsampled_results() -> dict[int, tuple[str, int]]:
    """Result pk → (test number, version), one result per latest test version not yet sampled."""
    known = ReportedProperty.objects.filter(test_number=OuterRef("number"),
                                            test_version=OuterRef("version"))
    # No ORDER BY: sorting a test's results to take the newest would read them all.
    one = (TestResult.objects.filter(runner_number=OuterRef("number"),
                                     runner_version=OuterRef("version"))
           .order_by().values("pk")[:1])
    rows = (Test.objects.latest_versions().filter(~Exists(known)).annotate(sample=Subquery(one))
            .order_by().values_list("sample", "number", "version"))
    return {pk: (number, version) for pk, number, version in rows if pk is not None}


def refresh() -> int:
    """Sample the latest test versions not sampled yet; the number of versions sampled."""
    samples = _unsampled_results()
    if not samples:
        return 0
    reported = {pk: set() for pk in samples}
    for result_id, name in (PropertyValue.objects.filter(result_id__in=list(samples))
                            .order_by().values_list("result_id", "property_name").distinct()):
        reported[result_id].add(name)
    rows = [ReportedProperty(test_number=samples[pk][0], test_version=samples[pk][1],
                             property_name=name)
            for pk, names in reported.items() for name in (names or {""})]
    # Two visits may sample the same version at once: the unique constraint keeps one row.
    ReportedProperty.objects.bulk_create(rows, ignore_conflicts=True)
    return len(samples)


def tests_reporting_filter(property_name: str) -> Exists:
    """A filter for Test querysets (of latest versions): the test version reports the property."""
    refresh()
    return Exists(ReportedProperty.objects.filter(
        property_name=property_name, test_number=OuterRef("number"), test_version=OuterRef("version")))


def tests_reporting(property_name: str) -> set[str]:
    """Numbers of the latest test versions that report ``property_name``."""
    return set(Test.objects.latest_versions().filter(tests_reporting_filter(property_name))
               .values_list("number", flat=True))
