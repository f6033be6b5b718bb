"""Keeping the documents in step with the rows: signal receivers and the full rebuild.

A data document is ``latest`` when its result is the newest result of its pair (runner lineage,
subject lineage) and both are the latest versions of their items, as OpenKIM flags it; errors
and ``stale`` marks do not enter (``stale`` is this pipeline's re-run bookkeeping, written with
``QuerySet.update`` and never a document change). An obj document (or a reference datum's data)
is latest when its item is the highest version of its lineage. ``latest`` lives in the column
only and is put into each document as it is read.
"""

import logging

from django.db import connections, router, transaction
from django.db.models import Exists, OuterRef, Q
from django.db.models.signals import post_delete, post_save

from queryapi import documents
from queryapi.models import QueryDocument
from repository.compiled import compiled
from repository.models import (
    Model,
    ModelDriver,
    Property,
    ReferenceDatum,
    SimulatorModel,
    Test,
    TestDriver,
    TestResult,
    VerificationCheck,
    VerificationResult,
)
from repository.signals import items_imported

logger = logging.getLogger("pipeline.queryapi")

DATA, OBJ = QueryDocument.Database.DATA, QueryDocument.Database.OBJ
RESULT_TABLES = (TestResult, VerificationResult)
ITEM_TABLES = (Test, TestDriver, Model, ModelDriver, Property, ReferenceDatum, VerificationCheck)
#: post_save names a proxy's class as the sender.
SIGNAL_TABLES = (*ITEM_TABLES, SimulatorModel)


def latest_results(table, rows: Q | None = None):
    """The results (among ``rows``) that are latest for their pair, as a query."""
    rows = rows if rows is not None else Q()
    runner_field = table.runner_fields[0]
    runner_model = table._meta.get_field(runner_field).related_model
    same_pair = Q(runner_number=OuterRef("runner_number"), subject_number=OuterRef("subject_number"))
    newer = table.objects.filter(same_pair & (
        Q(runner_version__gt=OuterRef("runner_version"))
        | Q(runner_version=OuterRef("runner_version"), subject_version__gt=OuterRef("subject_version"))
        | Q(runner_version=OuterRef("runner_version"), subject_version=OuterRef("subject_version"),
            created_at__gt=OuterRef("created_at"))))
    newer_runner = runner_model.objects.filter(number=OuterRef("runner_number"),
                                               version__gt=OuterRef("runner_version"))
    newer_subject = Model.objects.filter(number=OuterRef("subject_number"),
                                         version__gt=OuterRef("subject_version"))
    return (table.objects.filter(rows).exclude(Exists(newer)).exclude(Exists(newer_runner))
            .exclude(Exists(newer_subject)))


def _latest_question(table, pk):
    """The query "is the result with this pk latest?" (``latest_results``)."""
    return latest_results(table, Q(pk=pk)).order_by().values("pk")[:1]


def is_latest(outcome) -> bool:
    """Whether ``outcome`` (a saved result) is the latest of its pair.

    Its SQL (three correlated subqueries, 2–3 ms for Django to build) is compiled once per
    table and database (``repository.compiled``); then only the pk changes.
    """
    table = type(outcome)._meta.concrete_model
    alias = router.db_for_write(table)
    question = compiled(("is_latest", table), lambda pk: _latest_question(table, pk),
                        {"pk": -7_000_000_001}, alias)  # no row's pk
    if question is None:
        return _latest_question(table, outcome.pk).exists()
    with connections[alias].cursor() as cursor:
        cursor.execute(question.sql, question.bind(pk=outcome.pk))
        return cursor.fetchone() is not None


def latest_result_ids(table, rows: Q | None = None) -> set[str]:
    """KIM IDs of the results (among ``rows``) that are latest for their pair."""
    return set(latest_results(table, rows).values_list("kim_id", flat=True))


def _data_row(document: dict, source, *, key: str, runner=None, subject=None) -> QueryDocument:
    meta = document["meta"]
    return QueryDocument(
        database=DATA, key=key, source=source.kim_id, kind=meta["type"],
        runner_kimcode=runner.kim_id if runner else "", runner_number=runner.number if runner else "",
        subject_kimcode=subject.kim_id if subject else "",
        subject_number=subject.number if subject else "",
        property_id=str(document.get("property-id", ""))[:255],
        created_on=getattr(source, "created_at", None), latest=document.pop("latest"),
        document={**document, "meta": meta})


def outcome_rows(outcome, *, latest: bool) -> list[QueryDocument]:
    return [_data_row(doc, outcome, key=f"{outcome.kim_id}#{doc.get('instance-id', n)}",
                      runner=outcome.runner, subject=outcome.model)
            for n, doc in enumerate(documents.outcome_documents(outcome, latest=latest), 1)]


def reference_rows(datum, *, latest: bool) -> list[QueryDocument]:
    return [_data_row(doc, datum, key=f"{datum.kim_id}#{doc.get('instance-id', n)}", subject=datum)
            for n, doc in enumerate(documents.reference_documents(datum, latest=latest), 1)]


def object_row(item, *, latest: bool) -> QueryDocument:
    document = documents.object_document(item, latest=latest)
    document.pop("latest")
    return QueryDocument(database=OBJ, key=item.kim_id, source=item.kim_id, kind=document["type"],
                         latest=latest,
                         created_on=getattr(item, "created_at", None), document=document)


def refresh_latest(*, tables=RESULT_TABLES, **scope) -> None:
    """Recompute ``latest`` of the data documents of results within ``scope`` (pair columns).

    A table's flags depend on its own rows only: one outcome changes those of its table.
    """
    for table in tables:
        # One UPDATE: each document's flag is whether its result is among the latest.
        latest = latest_results(table, Q(**scope)).filter(kim_id=OuterRef("source"))
        QueryDocument.objects.filter(database=DATA, kind=table.leaders[0].lower(), **scope).update(
            latest=Exists(latest))


def write_outcome(outcome, *, new: bool = False) -> None:
    """The data documents of ``outcome``, replaced (``new``: it has none yet)."""
    table = type(outcome)._meta.concrete_model
    pair = {"runner_number": outcome.runner_number, "subject_number": outcome.subject_number}
    with transaction.atomic():
        if not new:
            QueryDocument.objects.filter(source=outcome.kim_id).delete()
            QueryDocument.objects.bulk_create(outcome_rows(outcome, latest=False))
            refresh_latest(tables=[table], **pair)
            return
        # A new result changes at most its own flag and those of the pair's results it is
        # newer than: one question and one plain UPDATE, not the pair's flags recomputed
        # (two correlated subqueries per document; a third of a job's own time on SQLite).
        latest = is_latest(outcome)
        QueryDocument.objects.bulk_create(outcome_rows(outcome, latest=latest))
        if latest:
            # The pair's other results are older, except those of the same versions made at
            # the same instant: a tie, which stays latest as in refresh_latest.
            (QueryDocument.objects
             .filter(database=DATA, kind=table.leaders[0].lower(), latest=True, **pair)
             .exclude(runner_kimcode=outcome.runner.kim_id, subject_kimcode=outcome.model.kim_id,
                      created_on=outcome.created_at)
             .update(latest=False))


def write_item(item) -> None:
    write_items([item])


def write_items(items) -> None:
    """The obj documents of ``items`` (and a reference datum's data), replaced; many at once for
    an import (the KIM API's ~550 installed items).

    One pass per table: rows read again in one query, documents replaced in bulk, then the
    ``latest`` flags of the lineages and results they touch: a fixed number of queries per
    table instead of about ten per item.
    """
    by_table: dict = {}
    for item in items:
        by_table.setdefault(type(item)._meta.concrete_model, []).append(item.pk)
    for table, pks in by_table.items():
        related = [f for f in ("driver", "property") if _has_field(table, f)]
        rows = list(table.objects.filter(pk__in=pks).select_related(*related))
        with transaction.atomic():
            QueryDocument.objects.filter(source__in=[row.kim_id for row in rows]).delete()
            documents_ = [object_row(row, latest=False) for row in rows]
            for row in rows:
                if isinstance(row, ReferenceDatum):
                    documents_ += reference_rows(row, latest=False)
            QueryDocument.objects.bulk_create(documents_, batch_size=500)
            _refresh_around(table, rows)


def _has_field(table, name: str) -> bool:
    return any(field.name == name for field in table._meta.get_fields())


def _refresh_lineages(table, lineages: set[tuple[str, str]]) -> None:
    """``latest`` of the obj documents (and reference data) of these lineages of one table."""
    if not lineages:
        return
    numbers = {number for _, number in lineages}
    versions = table.objects.filter(number__in=numbers).values_list("leader", "number", "version",
                                                                    "kim_id")
    highest: dict = {}
    members = []
    for leader, number, version, kim_id in versions:
        if (leader, number) not in lineages:
            continue
        members.append(kim_id)
        if (leader, number) not in highest or version > highest[(leader, number)][0]:
            highest[(leader, number)] = (version, kim_id)
    tops = [kim_id for _, kim_id in highest.values()]
    lineage_docs = QueryDocument.objects.filter(source__in=members)
    lineage_docs.exclude(source__in=tops).exclude(latest=False).update(latest=False)
    lineage_docs.filter(source__in=tops).exclude(latest=True).update(latest=True)


def _refresh_around(table, rows) -> None:
    """What new or deleted versions change: their lineages' and their results' ``latest``."""
    _refresh_lineages(table, {(row.leader, row.number) for row in rows})
    numbers = sorted({row.number for row in rows})
    if issubclass(table, (Test, VerificationCheck)):
        refresh_latest(runner_number__in=numbers)
    elif issubclass(table, Model):
        refresh_latest(subject_number__in=numbers)


def forget_item(item) -> None:
    with transaction.atomic():
        QueryDocument.objects.filter(source=item.kim_id).delete()
        _refresh_around(type(item)._meta.concrete_model, [item])


def forget(kim_id: str, *, tables=RESULT_TABLES, **scope) -> None:
    with transaction.atomic():
        QueryDocument.objects.filter(source=kim_id).delete()
        if scope:
            refresh_latest(tables=tables, **scope)


# -- receivers ----------------------------------------------------------------------------------


def _guarded(what: str, job, *args, **kwargs) -> None:
    # A document that cannot be made must not undo the row it mirrors: logged, and
    # rebuildquerydocs makes it again.
    try:
        job(*args, **kwargs)
    except Exception:
        logger.exception("query documents of %s not updated", what)


def on_outcome_saved(sender, instance, raw=False, created=False, **kwargs):
    if not raw:
        _guarded(instance.kim_id, write_outcome, instance, new=created)


def on_outcome_deleted(sender, instance, **kwargs):
    _guarded(instance.kim_id, forget, instance.kim_id, tables=[type(instance)._meta.concrete_model],
             runner_number=instance.runner_number, subject_number=instance.subject_number)


def on_item_saved(sender, instance, raw=False, **kwargs):
    if not raw:
        _guarded(instance.kim_id, write_item, instance)


def on_item_deleted(sender, instance, **kwargs):
    _guarded(instance.kim_id, forget_item, instance)


def on_items_imported(sender, items=(), **kwargs):
    items = list(items)
    if items:
        _guarded(f"{len(items)} imported items", write_items, items)


def connect() -> None:
    for table in RESULT_TABLES:
        post_save.connect(on_outcome_saved, sender=table, dispatch_uid=f"queryapi.saved.{table.__name__}")
        post_delete.connect(on_outcome_deleted, sender=table,
                            dispatch_uid=f"queryapi.deleted.{table.__name__}")
    for table in SIGNAL_TABLES:
        post_save.connect(on_item_saved, sender=table, dispatch_uid=f"queryapi.saved.{table.__name__}")
        post_delete.connect(on_item_deleted, sender=table,
                            dispatch_uid=f"queryapi.deleted.{table.__name__}")
    items_imported.connect(on_items_imported, dispatch_uid="queryapi.items_imported")


# -- the full rebuild ---------------------------------------------------------------------------


def rebuild(batch_size: int = 2000) -> dict[str, int]:
    """Every document made again from the rows, in one transaction; counts by database."""
    with transaction.atomic():
        QueryDocument.objects.all().delete()
        pending: list[QueryDocument] = []

        def flush(force=False):
            if pending and (force or len(pending) >= batch_size):
                QueryDocument.objects.bulk_create(pending, batch_size=batch_size)
                pending.clear()

        for table in RESULT_TABLES:
            latest = latest_result_ids(table)
            rows = table.objects.select_related(table.runner_fields[0], "model")
            if table is TestResult:
                rows = rows.select_related("test__driver")
            for outcome in rows.iterator(chunk_size=500):
                pending += outcome_rows(outcome, latest=outcome.kim_id in latest)
                flush()
        for table in ITEM_TABLES:
            highest: dict[tuple, int] = {}
            items = list(table.objects.all())
            for item in items:
                highest[(item.leader, item.number)] = max(item.version, highest.get((item.leader, item.number), -1))
            for item in items:
                latest = item.version == highest[(item.leader, item.number)]
                pending.append(object_row(item, latest=latest))
                if isinstance(item, ReferenceDatum):
                    pending += reference_rows(item, latest=latest)
                flush()
        flush(force=True)
    counts = {}
    for database in (DATA, OBJ):
        counts[database] = QueryDocument.objects.filter(database=database).count()
    return counts
