"""Querysets compiled once per worker: for hot questions whose only varying parts are values.

Django takes 1–3 ms to build and compile a queryset with correlated subqueries (the current
outcome of a pair, whether a result is latest), often more than the database takes to answer.
A question asked once per job is compiled here once per process and database, with marker
values where the varying values go; each ask puts the values in place of the markers.
"""

import logging
from collections.abc import Callable, Hashable
from typing import NamedTuple

from django.core.exceptions import EmptyResultSet, FullResultSet
from django.db import connections
from django.db.models import QuerySet

logger = logging.getLogger("pipeline.repository")


class Compiled(NamedTuple):
    """A question's SQL and parameters, with the place of each marker among the parameters."""

    sql: str
    params: tuple
    #: marker name → its index in ``params``
    places: dict

    def bind(self, **values) -> list:
        """The parameters with ``values`` in the markers' places. The values go to the database
        as they are (no field prepares them): give them in database form, as strings and
        integers are."""
        params = list(self.params)
        for name, value in values.items():
            params[self.places[name]] = value
        return params


_compiled: dict[tuple, Compiled | None] = {}


def compiled(key: Hashable, build: Callable[..., QuerySet], markers: dict[str, object],
             alias: str) -> Compiled | None:
    """The SQL of ``build(**markers)`` on the database ``alias``, compiled at the first ask.

    Each marker must be a value no real row has, within its field's range (Django compiles an
    out-of-range value to no query at all), unlike any other parameter (an integer marker of 0
    or 1 would meet ``False`` and ``True``), and kept by Django as it is (a string, an
    integer; a datetime is turned into text on SQLite); it must appear exactly once among the
    compiled parameters. Otherwise None, logged once: the caller asks through the ORM each time.
    """
    cache_key = (key, alias, connections[alias].vendor)
    if cache_key not in _compiled:
        try:
            sql, params = build(**markers).query.get_compiler(alias).as_sql()
        except (EmptyResultSet, FullResultSet):
            sql, params = "", []
        places = {}
        for name, marker in markers.items():
            # isinstance: on PostgreSQL Django hands psycopg's Int2/Int8 (int subclasses).
            found = [n for n, param in enumerate(params)
                     if isinstance(param, type(marker)) and param == marker]
            if len(found) != 1:
                places = None
                break
            places[name] = found[0]
        _compiled[cache_key] = Compiled(sql, tuple(params), places) if places else None
        if not places:
            logger.warning("the question %r is asked through the ORM each time: its markers "
                           "are not each exactly one of its compiled parameters", key)
    return _compiled[cache_key]
