"""Private servers for the fault tests, a site on them, and a hard time limit per test.

The PostgreSQL server is private to this folder's tests (tests/faults/services.py) and started
once per session; each test gets a database of its own made from a migrated template.
"""

import signal
import uuid

import pytest

from tests.faults.services import PrivatePostgres, PrivateRedis
from tests.fixtures.pipeline.site import PipelineSite

#: Seconds a fault test may take in all (its own waits are shorter): past it, it fails.
TEST_TIME_LIMIT = 600


@pytest.fixture(autouse=True)
def time_limit(request):
    """SIGALRM fails a test that overruns (pytest-timeout is not a dependency)."""
    limit = getattr(request.module, "TIME_LIMIT", TEST_TIME_LIMIT)

    def overran(signum, frame):
        pytest.fail(f"{request.node.name} ran past its {limit} s limit", pytrace=True)

    previous = signal.signal(signal.SIGALRM, overran)
    signal.alarm(limit)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, previous)


@pytest.fixture(scope="session")
def private_postgres(tmp_path_factory):
    server = PrivatePostgres()
    try:
        server.start()
        server.sql("CREATE DATABASE kim_template")
        site = PipelineSite(tmp_path_factory.mktemp("faults-template"),
                            database=server.url("kim_template"))
        site.manage("migrate", "--noinput")
        yield server
    finally:
        server.stop()


@pytest.fixture
def private_redis():
    server = PrivateRedis()
    try:
        server.start()
        yield server
    finally:
        server.stop()


def site_on(server: PrivatePostgres, workdir, **options) -> PipelineSite:
    """A site on a fresh database of the private server (a copy of the migrated template)."""
    name = f"kim_{uuid.uuid4().hex[:10]}"
    server.sql(f'CREATE DATABASE "{name}" TEMPLATE kim_template')
    site = PipelineSite(workdir, database=server.url(name), **options)
    site.database_name = name
    return site
