"""kim-query's own client against this site's /api (a live server), on real results: the raw
query answers what the template's query() answers, the named queries answer the values the
results hold, and bad input is a 400 with a message."""

import json

import kim_query
import kim_query.kim_query as client
import pytest
import requests

from queryapi import api
from repository.models import Model
from runner.template import render_text
from tests.queryapi.real import (
    AL_MODELS,
    EXAMPLE_SURFACE,
    OPENKIM_QUERY,
    import_examples,
    key_values,
    lattice_test,
    run,
)

pytestmark = [pytest.mark.kimapi, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

OPENKIM_URL = "https://query.openkim.org/api"


@pytest.fixture
def site(live_server, monkeypatch):
    """kim_query's requests go to the live server: its URL is fixed in _send_query, so the one
    place to point it is the requests.post it calls."""
    real_post = requests.post

    def post(url, *args, **kwargs):
        if url.startswith(OPENKIM_URL):
            url = live_server.url + "/api" + url[len(OPENKIM_URL):]
        assert url.startswith(live_server.url), f"a test must not reach {url}"
        return real_post(url, *args, **kwargs)

    monkeypatch.setattr(client.requests, "post", post)
    return live_server.url


@pytest.fixture
def computed(repository_dir, examples_dir):
    import_examples(examples_dir)
    model = AL_MODELS[0]
    return run(lattice_test().kim_id, model), run(EXAMPLE_SURFACE, model)


def test_kim_query_gets_from_the_site_what_the_templates_get(site, computed):
    lattice, surface = computed
    model = Model.objects.get(kim_id=AL_MODELS[0])
    template = render_text(f"@< {OPENKIM_QUERY} | tojson >@", lattice_test(), model,
                           filename="pipeline.stdin.tpl")
    params = eval(OPENKIM_QUERY[len("query("):-1].replace("MODELNAME", repr(model.kim_id)))  # noqa: S307
    assert kim_query.raw_query(**params) == json.loads(template.text) == api.query(params)
    (a,) = key_values(lattice, "a", "structure-cubic-crystal-npt")
    (energy,) = key_values(lattice, "cohesive-potential-energy")

    assert kim_query.get_lattice_constant_cubic([model.kim_id], ["fcc"], ["Al"], ["angstrom"]) == [
        pytest.approx(a)]
    assert kim_query.get_lattice_constant_cubic(["MO_123629422045"], ["fcc"], ["Al"], ["nm"]) == [
        pytest.approx(a / 10)]
    assert kim_query.get_cohesive_energy_cubic([model.kim_id], ["fcc"], ["Al"], ["eV"]) == [
        pytest.approx(energy)]
    assert kim_query.get_test_result([lattice.test.kim_id], [model.kim_id],
                                     ["structure-cubic-crystal-npt"], ["a", "short-name"],
                                     ["SI", None]) == [[pytest.approx(a * 1e-10), ["fcc"]]]
    (gamma_111,) = [i["ideal-surface-energy"]["source-value"] for i in surface.instances
                    if i["miller-indices"]["source-value"] == [1, 1, 1]]
    assert kim_query.get_surface_energy_ideal_cubic(
        [model.kim_id], ["fcc"], ["Al"], [1, 1, 1], ["eV/angstrom^2"],
        ["SurfaceEnergyIdealFCC__TD_809313227417"]) == [pytest.approx(gamma_111)]
    # A crystal nothing computed: an empty answer, as OpenKIM gives.
    assert kim_query.get_lattice_constant_cubic([model.kim_id], ["bcc"], ["Al"], ["angstrom"]) == []
    available = kim_query.get_available_models(["Al"], ["exact"], ["mo"])
    assert set(AL_MODELS) <= set(available)
    assert all(kim_id.split("__")[-1].startswith("MO_") for kim_id in available)
    assert {tuple(m.species) for m in Model.objects.filter(kim_id__in=available)} == {("Al",)}
    assert len(kim_query.get_available_models(["Al"])) > len(available)  # "and": alloys too
    assert kim_query.raw_query(query={"type": "td"}, database="obj", project=["kimcode"],
                               sort="kimcode", limit=2) == sorted(
        api.query({"database": "obj", "query": {"type": "td"}, "project": ["kimcode"]}))[:2]


def test_bad_input_is_a_400_with_a_message(site):
    answer = kim_query.raw_query(query={"a": {"$near": 1}}, database="data")
    assert answer == {"error": "a: unknown operator $near"}
    response = requests.post(site + "/api", data={"query": "{not json"})
    assert response.status_code == 400 and "not JSON" in response.json()["error"]
    response = requests.post(site + "/api/get_lattice_constant_cubic", data={"model": '["MO_1"]'})
    assert response.status_code == 400 and "missing a required argument" in response.json()["error"]
    response = requests.post(site + "/api/get_lattice_constant_cubic", data={
        "model": '["MO_999999999999_000"]', "crystal": '["fcc"]', "species": '["Al"]',
        "units": '["angstrom"]'})
    assert response.status_code == 400 and "MO_999999999999_000" in response.json()["error"]
    response = requests.post(site + "/api/get_everything", data={})
    assert response.status_code == 404 and "get_test_result" in response.json()["error"]
    assert requests.get(site + "/api").status_code == 405
