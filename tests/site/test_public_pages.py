"""The public pages over a small published world: every page answers, links and has a JSON twin."""

import re

import pytest

from tests.site.cast import PROPERTY, make_cast

pytestmark = pytest.mark.django_db


@pytest.fixture
def cast(repository_dir):
    return make_cast(repository_dir)


def test_a_code_without_version_or_name_redirects_to_the_full_latest_id(client, cast):
    number = cast.test.number
    for short in (f"TE_{number}", f"TE_{number}_000", f"Other__TE_{number}_000"):
        page = client.get(f"/id/{short}")
        assert page.status_code == 302 and page["Location"] == f"/id/{cast.test.kim_id}", short
    result = cast.results[0]
    assert client.get(f"/id/{result.kim_id[:15]}")["Location"] == f"/id/{result.kim_id}"


def test_unknown_and_malformed_ids_are_not_found(client, cast):
    assert client.get("/id/TE_999999999999").status_code == 404
    assert client.get("/id/not-a-kim-id").status_code == 404


def test_model_page_shows_grades_and_results_grouped_by_property_with_a_plot(client, cast):
    text = client.get(f"/id/{cast.models[0].kim_id}").content.decode()
    assert cast.grade.kim_id in text and "<strong>A</strong>" in text
    assert f'href="/properties/{PROPERTY}"' in text
    assert f"/plots/test/{cast.test.kim_id}.svg?property={PROPERTY}&amp;key=a&amp;highlight=" in text
    plot = re.search(r'<img src="([^"]+)"', text)[1].replace("&amp;", "&")
    svg = client.get(plot)
    assert svg.status_code == 200 and b"<svg" in svg.content


def test_test_page_sorts_models_by_value_both_ways(client, cast):
    ascending = client.get(f"/id/{cast.test.kim_id}?sort=value").content.decode()
    descending = client.get(f"/id/{cast.test.kim_id}?sort=-value").content.decode()
    ids = [m.kim_id for m in cast.models]
    assert [ascending.index(f">{i}<") for i in ids] == sorted(ascending.index(f">{i}<") for i in ids)
    assert [descending.index(f">{i}<") for i in ids] == sorted(
        (descending.index(f">{i}<") for i in ids), reverse=True)
    data = client.get(f"/id/{cast.test.kim_id}?format=json&sort=-value").json()
    assert [v["value"] for v in data["values"]] == [5.31, 5.26, 5.20]


def test_plot_is_an_svg_with_the_unit_on_its_axis(client, cast):
    svg = client.get(f"/plots/test/{cast.test.kim_id}.svg?property={PROPERTY}&key=a")
    assert svg["Content-Type"] == "image/svg+xml"
    assert b"<svg" in svg.content and b"angstrom" in svg.content


def test_driver_page_lists_its_tests(client, cast):
    text = client.get(f"/id/{cast.driver.kim_id}").content.decode()
    assert cast.test.kim_id in text


def test_result_page_escapes_and_truncates_outputs_and_links_the_whole_file(client, cast):
    result = cast.results[0]
    text = client.get(f"/id/{result.kim_id}").content.decode()
    assert "<script>alert(1)" not in text and "&lt;script&gt;alert(1)" in text
    assert "&lt;b&gt;bold&lt;/b&gt;" in text
    assert f'href="/id/{result.kim_id}/files/pipeline.stdout">the whole file' in text
    assert "5.2" in text and "angstrom" in text
    whole = client.get(f"/id/{result.kim_id}/files/pipeline.stdout")
    assert whole["Content-Type"].startswith("text/plain") and len(b"".join(whole.streaming_content)) > 30_000


def test_result_downloads_edn_json_and_csv(client, cast):
    result = cast.results[0]
    assert b"property-id" in b"".join(client.get(f"/id/{result.kim_id}/files/results.edn").streaming_content)
    data = client.get(f"/id/{result.kim_id}?format=json").json()
    assert {"key": "a", "value": 5.2, "unit": "angstrom"}.items() <= next(
        v for v in data["values"] if v["key"] == "a").items()
    csv_text = client.get(f"/id/{result.kim_id}?download=csv").content.decode()
    assert f"{result.kim_id},1,{PROPERTY},a,5.2,angstrom" in csv_text


def test_files_outside_the_item_folder_are_refused(client, cast, repository_dir):
    result = cast.results[0]
    (repository_dir / "secret.txt").write_text("top secret")
    (result.path / "link").symlink_to(repository_dir / "secret.txt")
    for name in ("../../secret.txt", "link", "%2e%2e/%2e%2e/secret.txt", "/etc/passwd"):
        page = client.get(f"/id/{result.kim_id}/files/{name}")
        assert page.status_code == 404, name


def test_browse_lists_filter_by_species_driver_and_status(client, cast):
    assert cast.test.kim_id in client.get("/browse/tests?species=ar").content.decode()
    assert cast.test.kim_id not in client.get("/browse/tests?species=Cu").content.decode()
    by_driver = client.get(f"/browse/tests?driver=TD_{cast.driver.number}&format=json").json()
    assert [i["kim_id"] for i in by_driver["items"]] == [cast.test.kim_id]
    models = client.get("/browse/models?format=json").json()
    assert cast.pending.kim_id not in [i["kim_id"] for i in models["items"]]
    assert client.get("/browse/models?status=pending&format=json").json()["items"] == []


def test_matrix_cells_link_results_and_colour_errors_by_category(client, cast):
    text = client.get("/browse/results").content.decode()
    assert f'class="cell result" href="/id/{cast.results[0].kim_id}"' in text
    assert f'class="cell error error-timeout" href="/id/{cast.error.kim_id}"' in text
    data = client.get(f"/browse/results?property={PROPERTY}&format=json").json()
    assert [row["test"] for row in data["rows"]] == [cast.test.kim_id]


def test_property_page_compares_models_with_the_reference(client, cast):
    text = client.get(f"/properties/{PROPERTY}").content.decode()
    assert cast.reference.kim_id in text and f"/plots/property/{PROPERTY}.svg" in text
    data = client.get(f"/properties/{PROPERTY}?format=json").json()
    assert data["references"][0]["value"] == 5.26
    deviation = {v["model"]: round(v["deviation"], 6) for v in data["values"]}
    assert deviation[cast.models[0].kim_id] == round(5.20 - 5.26, 6)
    svg = client.get(f"/plots/property/{PROPERTY}.svg?test={cast.test.kim_id}&key=a").content
    assert b"<svg" in svg and b"reference" in svg


def test_search_goes_to_a_kim_id_and_finds_words_of_a_title(client, cast):
    assert client.get(f"/search?q=TE_{cast.test.number}")["Location"] == f"/id/TE_{cast.test.number}"
    assert cast.driver.kim_id not in client.get("/search?q=fixture").content.decode()
    assert cast.test.kim_id in client.get("/search?q=pipeline+fixture").content.decode()


def test_pending_model_is_hidden_from_the_public(client, cast):
    assert client.get(f"/id/{cast.pending.kim_id}").status_code == 404


def _queries(client, url: str) -> int:
    from django.core.cache import cache
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    cache.clear()
    with CaptureQueriesContext(connection) as captured:
        assert client.get(url).status_code == 200, url
    return len(captured)


def test_pages_cost_the_same_queries_with_three_models_or_twelve(client, cast):
    from tests.factories import make_model, make_result, make_values

    urls = ["/", "/browse/models", "/browse/tests", "/browse/results", f"/properties/{PROPERTY}",
            f"/id/{cast.test.kim_id}", f"/id/{cast.models[0].kim_id}", f"/id/{cast.results[0].kim_id}",
            f"/plots/test/{cast.test.kim_id}.svg?property={PROPERTY}&key=a",
            "/browse/results?format=json", f"/id/{cast.test.kim_id}?format=json"]
    for url in urls:  # the first visit samples which properties the test reports (once)
        _queries(client, url)
    before = {url: _queries(client, url) for url in urls}
    for n in range(9):
        model = make_model(f"LJ_More_{n}", 200 + n)
        make_values(make_result(cast.test, model, 7000 + n), PROPERTY, a=(5.0 + n / 10, "angstrom"))
    assert {url: _queries(client, url) for url in urls} == before


def test_a_result_json_twin_carries_the_query_api_documents_of_that_result(client, cast):
    import json

    result = cast.results[0]
    twin = client.get(f"/id/{result.kim_id}?format=json").json()
    answered = client.post("/api", {"database": json.dumps("data"), "history": json.dumps(True),
                                    "query": json.dumps({"meta.uuid": result.kim_id})}).json()
    assert twin["documents"], twin
    assert twin["documents"] == answered
    document = twin["documents"][0]
    assert document["meta"]["uuid"] == result.kim_id
    assert document["meta"]["runner"]["kimcode"] == cast.test.kim_id
    assert document["a"]["source-unit"] == "angstrom" and "si-value" in document["a"]
    error = client.get(f"/id/{cast.error.kim_id}?format=json").json()
    assert error["documents"] == []
