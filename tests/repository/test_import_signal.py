"""items_imported: sent once the rows are committed, with exactly the items created or updated."""

import kim_edn
import pytest
from django.db import connection

from repository import edn
from repository.importer import import_item, import_repository
from repository.models import KIMItem, Model
from repository.signals import items_imported
from tests.repository import builders as b
from tests.repository.bad_items import unparsable_edn


@pytest.fixture
def received():
    """Each sending of items_imported: (sender, KIM IDs, whether a transaction was open)."""
    calls = []

    def receiver(sender, items, **kwargs):
        calls.append((sender, [item.kim_id for item in items], connection.in_atomic_block))

    items_imported.connect(receiver, dispatch_uid="test_import_signal")
    yield calls
    items_imported.disconnect(dispatch_uid="test_import_signal")


@pytest.mark.django_db
def test_sent_once_with_the_created_items_in_import_order_not_the_rejected(source, repository_dir,
                                                                          received):
    bad_folder, _ = unparsable_edn(source)

    report = import_repository(source)

    assert [p for p, _ in report.rejected] == [bad_folder]
    assert [(sender, kim_ids) for sender, kim_ids, _ in received] == [(KIMItem, report.created)]
    assert sorted(report.created) == sorted(b.ALL_ITEMS)


@pytest.mark.django_db
def test_unchanged_items_send_nothing_and_an_update_sends_only_itself(source, repository_dir,
                                                                      received):
    import_repository(source)
    received.clear()
    import_repository(source)
    assert received == []

    spec_path = b.folder_of(source, b.MO) / "kimspec.edn"
    spec = edn.load(spec_path)
    spec["title"] = "LJ for argon, corrected"
    spec_path.write_text(kim_edn.dumps(spec))
    import_repository(source)
    assert [kim_ids for _, kim_ids, _ in received] == [[b.MO]]


@pytest.mark.django_db
def test_import_item_sends_its_item_and_nothing_when_rejected_or_unchanged(source, repository_dir,
                                                                          received):
    with pytest.raises(Exception, match=b.MD):
        import_item(b.folder_of(source, b.MO), source_root=source)  # its driver is not there yet
    assert received == []

    import_item(b.folder_of(source, b.MD), source_root=source)
    model = import_item(b.folder_of(source, b.MO), source_root=source)
    import_item(b.folder_of(source, b.MO), source_root=source)

    assert [kim_ids for _, kim_ids, _ in received] == [[b.MD], [b.MO]]
    assert isinstance(model, Model)


@pytest.mark.django_db(transaction=True)
def test_sent_after_the_rows_are_committed(source, repository_dir, received):
    import_repository(source)
    assert received and not any(in_transaction for _, _, in_transaction in received)


@pytest.mark.django_db
def test_a_failing_receiver_is_logged_and_the_import_stands(source, repository_dir, caplog):
    def broken(sender, items, **kwargs):
        raise RuntimeError("receiver broke")

    items_imported.connect(broken, dispatch_uid="test_import_signal_broken")
    try:
        report = import_repository(source)
    finally:
        items_imported.disconnect(dispatch_uid="test_import_signal_broken")

    assert report.ok and Model.objects.filter(kim_id=b.MO).exists()
    assert any("receiver broke" in record.getMessage() for record in caplog.records)
