"""The example repository imported once for tests/openkim, as tests/examples does (same fixture)."""

from tests.examples.conftest import examples  # noqa: F401  (the package-scoped fixture)
