"""Fixtures of the curator's tests: commands run as a curator types them."""

from io import StringIO

import pytest
from django.core.management import call_command


def run(*args, **options) -> tuple[str, str]:
    """(stdout, stderr) of one management command."""
    out, err = StringIO(), StringIO()
    call_command(*args, stdout=out, stderr=err, **options)
    return out.getvalue(), err.getvalue()


@pytest.fixture
def command():
    return run
