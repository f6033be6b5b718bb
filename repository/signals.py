"""Signals the repository app sends, so other apps act on items without the repository knowing them."""

import django.dispatch

#: Sent by import_repository / import_item after an item's transaction has committed, with
#: ``items=[KIMItem, ...]``: the items created or updated (never rejected or unchanged ones).
#: runner/ connects a receiver that builds drivers, tests and checks from source at import time.
items_imported = django.dispatch.Signal()
