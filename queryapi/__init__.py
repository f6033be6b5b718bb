"""The OpenKIM query API answered from this database: documents (``data``, ``obj``), a MongoDB
filter engine over them, kim-query's named queries, and its HTTP wire protocol.

Layering: queryapi imports repository, never runner; runner's template ``query()`` calls
``queryapi.api.query``.
"""
