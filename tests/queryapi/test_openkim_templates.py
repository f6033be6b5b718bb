"""Templates in OpenKIM's style on real results: the example drivers run on installed Al models,
a Test asking query() with $regex for its upstream lattice constant runs unchanged and gives
what the driver gives from get_test_result's value; the query's result IDs are its upstream."""

import pytest

from queryapi import api
from runner.template import render_text
from tests.queryapi.real import (
    AL_MODELS,
    EXAMPLE_SURFACE,
    OPENKIM_QUERY,
    OPENKIM_STYLE,
    import_examples,
    key_values,
    lattice_test,
    run,
    write_openkim_style_test,
)

pytestmark = [pytest.mark.kimapi, pytest.mark.slow, pytest.mark.django_db]


@pytest.fixture
def computed(repository_dir, examples_dir):
    import_examples(examples_dir)
    openkim_style = write_openkim_style_test(repository_dir, examples_dir)
    lattices = {model: run(lattice_test().kim_id, model) for model in AL_MODELS}
    return openkim_style, lattices


def test_an_openkim_style_query_reads_each_models_lattice_constant_in_si(computed):
    openkim_style, lattices = computed
    assert list(openkim_style.depends_on.all()) == [lattice_test()]
    from repository.models import Model

    for model_id, lattice in lattices.items():
        rendered = render_text(f"@< {OPENKIM_QUERY} >@", openkim_style, Model.objects.get(kim_id=model_id))
        (a,) = key_values(lattice, "a", "structure-cubic-crystal-npt")
        assert eval(rendered.text) == [pytest.approx(a * 1e-10, rel=1e-12)]  # noqa: S307 — a list literal
        assert rendered.upstream == [lattice.kim_id]
    assert lattices[AL_MODELS[0]].instances != lattices[AL_MODELS[1]].instances


def test_an_openkim_style_test_runs_unchanged_and_matches_the_driver_fed_by_get_test_result(computed):
    _, lattices = computed
    model = AL_MODELS[0]
    by_get_test_result = run(EXAMPLE_SURFACE, model)
    by_query = run(OPENKIM_STYLE, model)
    assert by_query.provenance["upstream-results"] == [lattices[model].kim_id]
    expected = key_values(by_get_test_result, "ideal-surface-energy")
    assert len(expected) >= 2
    assert key_values(by_query, "ideal-surface-energy") == pytest.approx(expected, rel=1e-9)
    # The new result is a document too, and its si-values answer a query at once.
    energies = api.query({"database": "data", "query": {
        "meta.runner.kimcode": OPENKIM_STYLE, "meta.subject.kimcode": model,
        "miller-indices.source-value": [1, 1, 1]}, "project": ["ideal-surface-energy.si-value"]})
    (gamma_111,) = [i["ideal-surface-energy"]["source-value"] for i in by_query.instances
                    if i["miller-indices"]["source-value"] == [1, 1, 1]]
    assert energies == [pytest.approx(gamma_111 * 16.02176634, rel=1e-9)]  # eV/Å² in J/m²
