"""The example repository imported once into the test database, for the real pipeline.

`examples` (package scope) imports examples/repository with the project's importer, into a
KIM_REPOSITORY_DIR of its own, and registers the KIM API's installed models, inside one
transaction that is rolled back when pytest leaves tests/examples (about 1.5 s; should
pytest-django's reordering leave the package and come back, it imports again).

Each test still takes pytest-django's `db`: a savepoint in that transaction, so the results it
makes are gone when it ends. What several tests of a module share (an upstream lattice-constant
result) is made by a module-scoped fixture, which runs before the test's savepoint opens.
"""

from dataclasses import dataclass
from pathlib import Path

import pytest
from django.db import transaction

from kimsite import config
from tests.conftest import EXAMPLES_DIR


@dataclass
class Examples:
    """The imported example repository: where its items are, and what the import did."""

    root: Path
    report: object
    installed: dict


@pytest.fixture(scope="package")
def examples(django_db_setup, django_db_blocker, tmp_path_factory):
    from repository.importer import import_repository
    from repository.installed import register_installed_items

    root = tmp_path_factory.mktemp("repository")
    with pytest.MonkeyPatch.context() as patch, django_db_blocker.unblock(), transaction.atomic():
        patch.setattr(config, "KIM_REPOSITORY_DIR", root)
        installed = register_installed_items()
        report = import_repository(EXAMPLES_DIR)
        assert report.ok, report.rejected
        yield Examples(root, report, installed)
        transaction.set_rollback(True)
