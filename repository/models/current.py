"""The one definition of a pair's current outcome, for one pair, for querysets and in bulk.

A *pair* is a runner lineage (a test or a check, by number) and a subject lineage (a model,
by number). Its outcomes are the rows of the runner kind's two tables: results (TestResult or
VerificationResult) and errors (Error rows of that kind of runner). Then:

* **latest** (KIM-FACTS): order the pair's outcomes of both tables by runner version, subject
  version, creation time; the first is latest. An error can be latest: a failed re-run
  supersedes the result before it.
* **current**: the latest outcome, provided it is for the latest versions of both items (a
  new version of the test or the model supersedes every outcome of the older one, even before
  it has run) and is not stale (an upstream result changed, or it waits to be re-run).

So a pair has at most one current outcome, and a result that a newer error superseded is not
current: a template that reads an upstream whose current outcome is an error gets no value.
Everything that asks "is this pair done?" (the director, the jobs, the template, the pages)
asks it here. Build errors (no runner) belong to no pair and are never latest or current.

Written without importing the outcome classes (the registry gives them), so the models
import this module and not the reverse.
"""

import operator
from collections.abc import Iterable
from functools import reduce

from django.apps import apps
from django.db import models, router
from django.db.models import Exists, OuterRef, Q

from repository import kimcodes
from repository.compiled import compiled

#: The foreign keys through which an outcome names its runner, and the runner's leader.
RUNNER_FIELDS = {"test": "TE", "verification_check": "VC"}


def _outcome_models() -> list:
    return [m for m in apps.get_app_config("repository").get_models()
            if getattr(m, "runner_fields", None)]


def outcome_tables(leader: str) -> tuple[models.QuerySet, ...]:
    """The outcome tables of one kind of runner ("TE" or "VC"): its results, then its errors."""
    field = next(f for f, fl in RUNNER_FIELDS.items() if fl == leader)
    tables = [m.objects.filter(**{f"{field}__isnull": False}) for m in _outcome_models()
              if field in m.runner_fields]
    # Results first (one runner field), errors (both) after: callers may rely on the order.
    return tuple(sorted(tables, key=lambda qs: len(qs.model.runner_fields)))


def _newer_of_same_pair() -> Q:
    """Rows of the outer row's pair that KIM-FACTS' order puts before it."""
    return Q(runner_number=OuterRef("runner_number"), subject_number=OuterRef("subject_number")) & (
        Q(runner_version__gt=OuterRef("runner_version"))
        | Q(runner_version=OuterRef("runner_version"),
            subject_version__gt=OuterRef("subject_version"))
        | Q(runner_version=OuterRef("runner_version"), subject_version=OuterRef("subject_version"),
            created_at__gt=OuterRef("created_at"))
    )


class OutcomeQuerySet(models.QuerySet):
    """Results and errors: which of them are latest, and current, for their pair."""

    def matching_code(self, text: str):
        """The rows a result ID names, exactly: result IDs carry no name, so by ``kim_id``.

        Without a version, every version of that number: a range over the unique ``kim_id``
        index (``TR_n_000`` … ``TR_n_999``), not a LIKE scan.
        """
        code = kimcodes.parse_kim_code(text, leader=self.model.leaders)
        if code.version is not None:
            return self.filter(kim_id=f"{code.short}_{code.version:03d}")
        return self.filter(kim_id__gte=f"{code.short}_000", kim_id__lte=f"{code.short}_999")

    def latest_per_pair(self):
        """The latest outcome of each pair, over the results *and* errors of its runner kind.

        Stale rows and rows of older item versions are kept (see ``current()``); a result
        superseded by a newer error is not latest.
        """
        kinds = []
        for field in self.model.runner_fields:
            superseded = [Q(Exists(table.filter(_newer_of_same_pair())))
                          for table in outcome_tables(RUNNER_FIELDS[field])]
            kinds.append(Q(**{f"{field}__isnull": False}) & ~reduce(operator.or_, superseded))
        return self.filter(reduce(operator.or_, kinds))

    def current(self):
        """The current outcome of each pair: latest, of the latest versions of both items, not stale."""
        subject_model = self.model._meta.get_field("model").related_model
        newer_subject = subject_model.objects.filter(number=OuterRef("subject_number"),
                                                     version__gt=OuterRef("subject_version"))
        kinds = []
        for field in self.model.runner_fields:
            runner_model = self.model._meta.get_field(field).related_model
            newer_runner = runner_model.objects.filter(number=OuterRef("runner_number"),
                                                       version__gt=OuterRef("runner_version"))
            kinds.append(Q(**{f"{field}__isnull": False}) & ~Q(Exists(newer_runner)))
        return (self.filter(stale=False).filter(reduce(operator.or_, kinds))
                .filter(~Q(Exists(newer_subject))).latest_per_pair())


def outcome_key(runner, subject) -> tuple[str, str, int, str, int]:
    """(runner leader, runner number, runner version, subject number, subject version)."""
    return (runner.leader, runner.number, runner.version, subject.number, subject.version)


def _chunks(items: list, size: int = 500):
    for start in range(0, len(items), size):
        yield items[start:start + size]


def current_outcome_keys(runners: Iterable, subjects: Iterable) -> set[tuple]:
    """``outcome_key`` of every current outcome among these runners × subjects, in bulk.

    A pair (runner, subject) has a current outcome exactly when
    ``outcome_key(runner, subject) in current_outcome_keys(runners, subjects)``; the set may
    also hold keys of pairs not asked about (rows are selected by the smaller side).
    A few queries per 500 items, whatever the number of pairs.
    """
    runners, subjects = list(runners), list(subjects)
    keys: set[tuple] = set()
    fields = ("runner_number", "runner_version", "subject_number", "subject_version")
    for leader in RUNNER_FIELDS.values():
        runner_numbers = sorted({r.number for r in runners if r.leader == leader})
        if not runner_numbers or not subjects:
            continue
        # One test × 10,000 models: select by the test; 10,000 tests × one model: by the model.
        if len(runner_numbers) <= len(subjects):
            column, numbers = "runner_number__in", runner_numbers
        else:
            column, numbers = "subject_number__in", sorted({s.number for s in subjects})
        for table in outcome_tables(leader):
            for chunk in _chunks(numbers):
                for row in table.filter(**{column: chunk}).current().values_list(*fields):
                    keys.add((leader, *row))
    return keys


def _current_of_pair(table, runner_number: str, subject_number: str):
    return (table.filter(runner_number=runner_number, subject_number=subject_number)
            .current().order_by("-created_at")[:1])


#: Marker lineage numbers for the compiled question: no lineage number has letters.
_MARKERS = {"runner_number": "runner-marker", "subject_number": "subject-marker"}


def _current_row(table, leader: str, runner_number: str, subject_number: str):
    """The current row of the pair in one of its outcome tables, or None. The query (two
    correlated subqueries and two more per table, 2–3 ms for Django to build) is compiled once
    per table and database (``repository.compiled``); then only the numbers change."""
    alias = router.db_for_read(table.model)
    question = compiled(("current outcome", table.model, leader),
                        lambda **numbers: _current_of_pair(table, **numbers), _MARKERS, alias)
    if question is None:
        return _current_of_pair(table, runner_number, subject_number).first()
    found = list(table.model.objects.db_manager(alias).raw(
        question.sql, question.bind(runner_number=runner_number, subject_number=subject_number)))
    return found[0] if found else None


def latest_outcome(runner, subject):
    """The current outcome (result or error) of the pair of ``runner`` and ``subject``, or None.

    ``runner`` and ``subject`` name their lineages: any version of them asks about the pair,
    and the answer is always for the latest versions (None while those have not run).
    """
    found = [_current_row(table, runner.leader, runner.number, subject.number)
             for table in outcome_tables(runner.leader)]
    found = [row for row in found if row is not None]
    if not found:
        return None
    return max(found, key=lambda o: (o.runner_version, o.subject_version, o.created_at))
