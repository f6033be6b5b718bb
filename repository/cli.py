"""What every management command shares: resolving IDs for people, JSON output, quiet logs.

One key vocabulary across the commands' ``--json``: ``kim_id``, ``runner``, ``model``,
``status`` (ok / error), ``category``, ``message``, ``created_at``, ``stale``, ``job``,
``state``, ``priority``, ``owner``.
"""

import json
import logging
from argparse import ArgumentTypeError
from contextlib import contextmanager

from django.core.management.base import CommandError

from repository.errors import PipelineError
from repository.models import kim_obj
from repository.models.lookups import kind_of


def resolve(text: str, kinds: tuple, what: str, *, swap_hint: str | None = None):
    """A full or partial KIM ID → its row (latest version when it has none), or a CommandError
    a person can act on (did you mean …, the versions that exist, the kind it is)."""
    try:
        item = kim_obj(text)
    except PipelineError as exc:
        raise CommandError(str(exc)) from exc
    if not isinstance(item, kinds):
        hint = f"; did you mean `{swap_hint.format(item=item.kim_id)}`?" if swap_hint else ""
        raise CommandError(f"{item.kim_id} is a {kind_of(item.kim_id.split('__')[-1][:2])}, "
                           f"not a {what}{hint}")
    return item


def positive_int(text: str) -> int:
    """An argparse type for counts: a whole number of at least 1 (``--workers 0`` is refused)."""
    try:
        value = int(text)
    except ValueError:
        raise ArgumentTypeError(f"expected a whole number, not {text!r}") from None
    if value < 1:
        raise ArgumentTypeError(f"must be at least 1, not {value}")
    return value


def add_json_flag(parser) -> None:
    parser.add_argument("--json", action="store_true",
                        help="print the data as JSON instead of lines (default: lines)")


def write_json(stdout, data) -> None:
    stdout.write(json.dumps(data, indent=2, default=str))


@contextmanager
def console_logs(verbosity: int, *, shown_from: int = 2):
    """The pipeline's console log only from ``-v shown_from`` up: a command says what happened
    itself (runpair would otherwise say its error twice). The log file keeps everything.
    """
    handlers = [h for h in logging.getLogger("pipeline").handlers
                if isinstance(h, logging.StreamHandler) and not isinstance(h, logging.FileHandler)]
    levels = [h.level for h in handlers]
    if verbosity < shown_from:
        for handler in handlers:
            handler.setLevel(logging.CRITICAL + 1)
    try:
        yield
    finally:
        for handler, level in zip(handlers, levels, strict=True):
            handler.setLevel(level)
