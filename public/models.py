"""What the pages precompute and keep: which test versions report which property."""

from django.db import models


class ReportedProperty(models.Model):
    """A test version reports a property: the property pages and the matrix's filter read it.

    Filled from one result of each latest test version the first time a page asks after that
    version has a result (``public.tests_reporting.refresh``); a test reports the same
    properties in every run, so a version is sampled once, not at every visit. A sampled
    result with no property values leaves a row with an empty ``property_name``: sampled,
    reports nothing.
    """

    test_number = models.CharField(max_length=12)
    test_version = models.PositiveSmallIntegerField()
    property_name = models.CharField(max_length=120, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["test_number", "test_version", "property_name"],
                                    name="public_reported_property_unique"),
        ]
        indexes = [
            # One property's tests (the property page, the matrix's ?property=).
            models.Index(fields=["property_name", "test_number", "test_version"],
                         name="public_reported_by_property"),
        ]

    def __str__(self) -> str:
        return f"TE_{self.test_number}_{self.test_version:03d} reports {self.property_name or 'nothing'}"
