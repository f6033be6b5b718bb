"""Fixtures of the verification-check pipeline tests: the example repository imported (its ten
checks), and the broken models built from source into a KIM API collection of their own.

A package of its own: the package-scoped import ends with it, so tests/checks/test_approval.py
works on a database of its own cast only."""

import pytest

from kimsite import config
from tests.examples.conftest import examples  # noqa: F401  (the package-scoped import, here too)

from .. import broken


@pytest.fixture(scope="package")
def broken_models(examples, django_db_blocker, tmp_path_factory):  # noqa: F811
    """{KIM ID: variant} of every broken model, built with the project's installer and
    registered; the pipeline's collection is this package's own for as long as it runs."""
    from repository.installed import register_installed_items
    from runner import install

    sources = tmp_path_factory.mktemp("broken-sources")
    work = tmp_path_factory.mktemp("broken-build")
    variants = broken.variants()
    with pytest.MonkeyPatch.context() as patch, django_db_blocker.unblock():
        patch.setattr(config, "KIM_API_DIR", tmp_path_factory.mktemp("kim-api"))
        patch.chdir(work)  # kim.log lands here, never in the checkout
        for kim_id, variant in variants.items():
            build = install.install_item(broken.write_item(kim_id, variant, sources))
            assert build.status == "succeeded", build.log[-3000:]
        register_installed_items()
        yield variants
