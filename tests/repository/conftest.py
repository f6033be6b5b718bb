"""Fixtures of the repository app's importer tests: a source repository, the importer's log."""

import logging

import pytest

from tests.repository import builders as b


@pytest.fixture
def source(tmp_path):
    return b.build_source_repository(tmp_path / "source")


@pytest.fixture
def importer_log():
    """Records of logger pipeline.importer, captured whatever the handlers of ``pipeline`` do."""
    records = []

    class Keep(logging.Handler):
        def emit(self, record):
            records.append(record)

    handler = Keep(level=logging.DEBUG)
    logger = logging.getLogger("pipeline.importer")
    logger.addHandler(handler)
    yield records
    logger.removeHandler(handler)
