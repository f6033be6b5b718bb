"""Bad items: each is rejected with its path and reason; the others still import."""

import logging

import pytest

from repository.importer import import_repository
from tests.repository import builders as b
from tests.repository.bad_items import BAD_ITEMS
from tests.repository.builders import all_kim_ids

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("make_bad_item", BAD_ITEMS, ids=lambda f: f.__name__)
def test_bad_item_is_rejected_alone(make_bad_item, source, repository_dir, importer_log):
    bad_folder, reason = make_bad_item(source)

    report = import_repository(source)

    rejected = dict(report.rejected)
    assert bad_folder in rejected, report.rejected
    assert reason in rejected[bad_folder]
    assert sorted(report.created) == sorted(b.ALL_ITEMS)
    assert all_kim_ids() == set(b.ALL_ITEMS)
    kind_folder = repository_dir / bad_folder.parent.name
    assert sorted(p.name for p in kind_folder.iterdir()) == sorted(
        k for k in b.ALL_ITEMS if b.folder_of(repository_dir, k).parent == kind_folder)
    logged = [r.getMessage() for r in importer_log if r.levelno == logging.WARNING]
    assert any(str(bad_folder) in message and reason in message for message in logged)
