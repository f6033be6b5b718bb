"""A build from source runs sandboxed too: it cannot write outside its build area or reach the network."""

import socket
from pathlib import Path

import pytest

from repository import storage
from runner import build
from tests.fixtures.runner.cast import made_test

pytestmark = [pytest.mark.django_db, pytest.mark.kimapi, pytest.mark.dbneutral]

KIM_ID = "HostileBuild__TE_000000019001_000"


def test_a_hostile_makefile_cannot_write_outside_its_build_area_or_connect(model, tmp_path):
    escaped, own_makefile = tmp_path / "escaped", storage.item_path(KIM_ID) / "Makefile"
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    test = made_test(KIM_ID, {
        "pipeline.stdin.tpl": "",
        "Makefile": (
            "runner:\n"
            f"\t-touch {escaped}\n"
            f"\t-python3 -c \"import socket; socket.create_connection(('127.0.0.1', {port}), 3); "
            f"open('{escaped}.net', 'w')\"\n"
            f"\t-echo pwned >> {own_makefile}\n"
            "\tprintf '#!/bin/sh\\nexit 0\\n' > runner && chmod +x runner\n"),
    })
    before = own_makefile.read_text()
    try:
        built = build.ensure_built(test, rebuild=True)
    finally:
        listener.close()
    assert built is not None and Path(built).name == "runner", "the build itself still works"
    assert not escaped.exists() and not (tmp_path / "escaped.net").exists()
    assert own_makefile.read_text() == before
