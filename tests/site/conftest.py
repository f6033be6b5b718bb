"""The public pages keep counts in the cache: every test starts with an empty one."""

import pytest
from django.core.cache import cache


@pytest.fixture(autouse=True)
def empty_cache():
    cache.clear()
    yield
    cache.clear()
