"""Browsing from the command line (as the KIM Developer Platform's ``kimitems``): items, results
and errors as plain rows, with the one key vocabulary of ``repository.cli``.
"""

import re
from datetime import UTC, datetime, timedelta

from django.db.models import Q
from django.utils import timezone

from repository.errors import PipelineError
from repository.models import (
    Error,
    Model,
    ModelDriver,
    Property,
    ReferenceDatum,
    Test,
    TestDriver,
    TestResult,
    VerificationCheck,
    VerificationResult,
)

#: ``items --kind``: the leader of each kind, lower case as kimitems spells it.
KIND_TABLES = {"te": Test, "td": TestDriver, "mo": Model, "sm": Model, "md": ModelDriver,
               "vc": VerificationCheck, "pr": Property, "rd": ReferenceDatum}

_DURATION = re.compile(r"([0-9]+)\s*([mhdw])")
_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_since(text: str) -> datetime:
    """``2h``, ``3d``, ``1w`` (that long ago), or an ISO date or date and time (UTC)."""
    found = _DURATION.fullmatch(text.strip())
    if found:
        return timezone.now() - timedelta(**{_UNITS[found[2]]: int(found[1])})
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise PipelineError(f"--since {text!r}: expected a duration (30m, 2h, 3d, 1w) or a date "
                            "(2026-12-01, 2026-12-01T10:00)") from None
    return moment if timezone.is_aware(moment) else timezone.make_aware(moment, UTC)


def first_line(text: str, limit: int = 200) -> str:
    line = (text or "").strip().splitlines()[:1]
    line = line[0] if line else ""
    return line if len(line) <= limit else line[:limit - 1] + "…"


def error_rows(*, category: str | None = None, test=None, model=None, since=None,
               current_only: bool = True):
    """Errors (by default only the current outcome of their pair), newest first, filtered."""
    rows = Error.objects.current() if current_only else Error.objects.all()
    if category:
        rows = rows.filter(category=category)
    if test is not None:
        field = "test" if isinstance(test, Test) else "verification_check"
        rows = rows.filter(**{f"{field}__number": test.number})
    if model is not None:
        rows = rows.filter(subject_number=model.number)
    if since is not None:
        rows = rows.filter(created_at__gte=since)
    return rows.select_related("test", "verification_check", "model").order_by("-created_at")


def error_row(error: Error) -> dict:
    runner_item = error.runner
    return {"kim_id": error.kim_id, "category": error.category,
            "runner": runner_item.kim_id if runner_item else None,
            "model": error.model.kim_id if error.model else None,
            "built_item": error.built_item or None, "message": first_line(error.message),
            "created_at": error.created_at.isoformat(), "stale": error.stale}


def item_rows(*, kind: str | None = None, species: list[str] = (), driver=None,
              search: str = "", latest: bool = True) -> list:
    """Items of one kind (or all), by species, driver, words of their name, title or description."""
    kinds = [kind] if kind else list(dict.fromkeys(KIND_TABLES))
    found = []
    for leader in kinds:
        table = KIND_TABLES[leader]
        rows = table.objects.filter(leader=leader.upper())
        if latest:
            rows = rows.latest_versions()
        for symbol in species:
            rows = rows.with_species(symbol)
        if driver is not None:
            if not hasattr(table, "driver"):
                continue
            rows = rows.filter(driver__number=driver.number)
        for word in search.split():
            rows = rows.filter(Q(name__icontains=word) | Q(title__icontains=word)
                               | Q(description__icontains=word))
        found += list(rows.order_by("name", "number", "version"))
    return found


def item_row(item) -> dict:
    driver = getattr(item, "driver", None)
    return {"kim_id": item.kim_id, "kind": item._meta.verbose_name, "title": item.title,
            "species": item.species, "driver": driver.kim_id if driver else None,
            "status": item.status}


def result_rows(item, *, prop: str | None = None, latest: bool = True) -> list:
    """The outcomes of a model (every runner) or of a runner (every model), newest first."""
    if isinstance(item, Model):
        tables = [(TestResult, Q(subject_number=item.number)),
                  (VerificationResult, Q(subject_number=item.number)),
                  (Error, Q(subject_number=item.number))]
    elif isinstance(item, Test):
        tables = [(TestResult, Q(test__number=item.number)), (Error, Q(test__number=item.number))]
    elif isinstance(item, VerificationCheck):
        tables = [(VerificationResult, Q(verification_check__number=item.number)),
                  (Error, Q(verification_check__number=item.number))]
    else:
        raise PipelineError(f"{item.kim_id} is neither a model nor a test or a verification "
                            "check: it has no results")
    found = []
    for table, where in tables:
        if prop and table is not TestResult:
            continue
        rows = (table.objects.current() if latest else table.objects.all()).filter(where)
        if prop:
            rows = rows.filter(Q(values__property_name=prop) | Q(values__property_id=prop)).distinct()
        found += list(rows.select_related("model", *table.runner_fields))
    return sorted(found, key=lambda o: o.created_at, reverse=True)


def result_row(outcome, *, prop: str | None = None) -> dict:
    row = {"kim_id": outcome.kim_id, "runner": outcome.runner.kim_id if outcome.runner else None,
           "model": outcome.model.kim_id if outcome.model else None,
           "status": "error" if isinstance(outcome, Error) else "ok",
           "created_at": outcome.created_at.isoformat(), "stale": outcome.stale}
    if isinstance(outcome, Error):
        row.update(category=outcome.category, message=first_line(outcome.message))
    elif isinstance(outcome, VerificationResult):
        row["grade"] = outcome.grade
    else:
        values = outcome.values.order_by("instance", "property_name", "key")
        if prop:
            values = values.filter(Q(property_name=prop) | Q(property_id=prop))
        quantities = [v for v in values if v.unit]
        row["values"] = [{"property": v.property_name, "key": v.key, "instance": v.instance,
                          "value": v.value, "unit": v.unit or None}
                         for v in (quantities or list(values))]
    return row
