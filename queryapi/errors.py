"""The query API's named errors: a malformed query, an unknown operator, a bound reached."""

from repository.errors import PipelineError


class QueryError(PipelineError, ValueError):
    """A query that cannot be answered as asked: malformed, an unknown operator or parameter."""


class QueryLimitExceeded(QueryError):
    """A query went past its bound in time or in the number of documents it would return."""


class UnitConversionError(QueryError):
    """GNU units cannot convert a value between the units asked."""
