"""The curator's admin: every page answers, search and filters work, list pages cost fixed queries."""

from datetime import timedelta

import pytest
from django.contrib import admin
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from repository.models import (
    ApprovalDecision,
    Error,
    MatchVerdict,
    Model,
    ModelDriver,
    Property,
    PropertyValue,
    ReferenceDatum,
    Test,
    TestDriver,
    TestResult,
    VerificationCheck,
    VerificationResult,
    WorkerEnvironment,
)
from tests.factories import make_test

pytestmark = pytest.mark.django_db

NOW = timezone.now()


@pytest.fixture
def cast():
    """One row of every model the admin shows, linked as the pipeline links them."""
    td = TestDriver.objects.create(kim_id="LatticeConstantCubic__TD_000000000010_000", title="LC driver")
    md = ModelDriver.objects.create(kim_id="LJ__MD_000000000020_000", title="Lennard-Jones driver")
    test_old = Test.objects.create(kim_id="LatticeConstant_Ar_fcc__TE_000000000050_000", driver=td,
                                   species=["Ar"], title="Lattice constant of fcc Ar")
    test = Test.objects.create(kim_id="LatticeConstant_Ar_fcc__TE_000000000050_001", driver=td,
                               species=["Ar"], title="Lattice constant of fcc Ar")
    test_al = Test.objects.create(kim_id="LatticeConstant_Al_fcc__TE_000000000052_000", driver=td,
                                  species=["Al"], title="Lattice constant of fcc Al")
    test.depends_on.set([test_al])
    model = Model.objects.create(kim_id="LJ_Ar__MO_000000000030_000", driver=md, species=["Ar"],
                                 title="LJ for argon")
    simulator = Model.objects.create(kim_id="Sim_LAMMPS_Ar__SM_000000000031_000", species=["Ar"],
                                     simulator_name="LAMMPS", status="pending", title="LAMMPS argon")
    prop = Property.objects.create(kim_id="AtomicMass__PR_000000000001_000", short_name="atomic-mass",
                                   property_id="tag:brunnels@noreply.openkim.org,2016-05-11:property/atomic-mass")
    datum = ReferenceDatum.objects.create(kim_id="AtomicMass_Ar__RD_000000000040_000", property=prop,
                                          species=["Ar"], citation="CRC")
    check = VerificationCheck.objects.create(kim_id="SpeciesSupportedAsStated__VC_000000000060_000")
    env = WorkerEnvironment.objects.create(host="worker1", os="Debian 12", python_version="3.11",
                                           kim_api_version="2.3.0", kimpy_version="2.1.4",
                                           pipeline_version="0.1.0")
    tr = TestResult.objects.create(kim_id="TR_000000000001_000", test=test, model=model,
                                   created_at=NOW, environment=env, runtime=0.8)
    value = PropertyValue.objects.create(result=tr, instance=1, property_id=prop.property_id,
                                         property_name="atomic-mass", key="mass", value=39.9, unit="u")
    vr = VerificationResult.objects.create(kim_id="VR_000000000002_000", verification_check=check,
                                           model=simulator, created_at=NOW, grade="P")
    er = Error.objects.create(kim_id="ER_000000000003_000", test=test, model=model, category="timeout",
                              message="killed after 300 s\nmore", created_at=NOW + timedelta(minutes=1))
    verdict = MatchVerdict.objects.create(runner_kim_id=test.kim_id, model_kim_id=model.kim_id,
                                          accepted=True)
    decision = ApprovalDecision.objects.create(model=simulator, curator="curator", override=True,
                                               reason="checks reviewed by hand", grades={})
    return {
        "td": td, "md": md, "test_old": test_old, "test": test, "test_al": test_al, "model": model,
        "simulator": simulator, "prop": prop, "datum": datum, "check": check, "env": env, "tr": tr,
        "value": value, "vr": vr, "er": er, "verdict": verdict,
        "decision": decision,
    }


def registered():
    return [(model, model_admin) for model, model_admin in admin.site._registry.items()
            if model._meta.app_label == "repository"]


def url(model, view, *args):
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_{view}", args=args)


def test_every_repository_model_is_registered():
    from django.apps import apps

    shown = {model for model, _ in registered()}
    assert set(apps.get_app_config("repository").get_models()) <= shown


def test_every_changelist_and_change_page_answers(admin_client, cast):
    for model, model_admin in registered():
        response = admin_client.get(url(model, "changelist"))
        assert response.status_code == 200, model
        row = model_admin.get_queryset(None).first()
        assert row is not None, f"the cast has no {model.__name__}"
        response = admin_client.get(url(model, "change", row.pk))
        assert response.status_code == 200, (model, row)


def test_results_cannot_be_added_by_hand_but_items_can(admin_client, cast):
    assert admin_client.get(url(TestResult, "add")).status_code == 403
    assert admin_client.get(url(Error, "add")).status_code == 403
    assert admin_client.get(url(Test, "add")).status_code == 200


def test_machine_written_fields_are_read_only(admin_client, cast):
    model_admin = admin.site._registry[Test]
    readonly = set(model_admin.get_readonly_fields(None, cast["test"]))
    assert {"kim_id", "version", "content_hash", "metadata", "source_format"} <= readonly
    assert "title" not in readonly and "status" not in readonly
    result_readonly = set(admin.site._registry[TestResult].get_readonly_fields(None, cast["tr"]))
    assert {"kim_id", "test", "model", "runtime", "created_at"} <= result_readonly
    assert "stale" not in result_readonly


def changelist_ids(admin_client, model, **query):
    response = admin_client.get(url(model, "changelist"), query)
    assert response.status_code == 200
    return {str(row) for row in response.context["cl"].result_list}


def test_search_by_kim_id_and_title(admin_client, cast):
    assert changelist_ids(admin_client, Model, q="LJ_Ar") == {cast["model"].kim_id}
    assert changelist_ids(admin_client, Test, q="fcc Al") == {cast["test_al"].kim_id}
    assert changelist_ids(admin_client, TestResult, q=cast["model"].kim_id) == {cast["tr"].kim_id}


def test_search_for_a_kim_id_is_exact_and_scans_nothing(admin_client, cast):
    cases = [
        (TestResult, cast["tr"].kim_id, {cast["tr"].kim_id}),
        (TestResult, "TR_000000000001", {cast["tr"].kim_id}),
        (TestResult, cast["model"].kim_id, {cast["tr"].kim_id}),
        (TestResult, cast["test"].kim_id, {cast["tr"].kim_id}),
        (TestResult, cast["test_old"].kim_id, set()),        # another version of the test
        (TestResult, "TE_000000000050", {cast["tr"].kim_id}),  # its lineage
        (Error, cast["model"].kim_id, {cast["er"].kim_id}),
        (VerificationResult, cast["check"].kim_id, {cast["vr"].kim_id}),
        (VerificationResult, cast["test"].kim_id, set()),     # a test runs no checks
        (Test, "TE_000000000050", {cast["test"].kim_id, cast["test_old"].kim_id}),
        (Model, cast["simulator"].kim_id, {cast["simulator"].kim_id}),
    ]
    for model, term, expected in cases:
        with CaptureQueriesContext(connection) as queries:
            found = changelist_ids(admin_client, model, q=term)
        assert found == expected, (model.__name__, term)
        like = [q["sql"] for q in queries if " LIKE " in q["sql"].upper()]
        assert like == [], (model.__name__, term, like)
    build = Error.objects.create(kim_id="ER_000000000009_000", built_item=cast["md"].kim_id,
                                 category="build", message="cmake failed", created_at=NOW)
    with CaptureQueriesContext(connection) as queries:
        assert changelist_ids(admin_client, Error, q=cast["md"].kim_id) == {build.kim_id}
    assert not [q for q in queries if " LIKE " in q["sql"].upper()]
    assert changelist_ids(admin_client, Error, q="killed after") == {cast["er"].kim_id}


def test_filters_species_latest_kind_and_status(admin_client, cast):
    assert changelist_ids(admin_client, Test, species="Al") == {cast["test_al"].kim_id}
    assert changelist_ids(admin_client, Test, latest="yes") == {cast["test"].kim_id, cast["test_al"].kim_id}
    assert changelist_ids(admin_client, Test, latest="no") == {cast["test_old"].kim_id}
    assert changelist_ids(admin_client, Model, kind="simulator") == {cast["simulator"].kim_id}
    assert changelist_ids(admin_client, Model, status="pending") == {cast["simulator"].kim_id}
    assert changelist_ids(admin_client, Error, category="timeout") == {cast["er"].kim_id}
    # The error (a minute after the result, same pair) supersedes the result.
    assert changelist_ids(admin_client, TestResult, latest="yes") == set()
    assert changelist_ids(admin_client, TestResult, latest="no") == {cast["tr"].kim_id}
    assert changelist_ids(admin_client, Error, latest="current") == {cast["er"].kim_id}
    assert changelist_ids(admin_client, VerificationResult, latest="current") == {cast["vr"].kim_id}
    response = admin_client.get(url(Test, "changelist"))
    species_choices = [c["display"] for f in response.context["cl"].filter_specs
                       if f.title == "species" for c in f.choices(response.context["cl"])]
    assert species_choices == ["All", "Al", "Ar"]


def test_latest_column_marks_superseded_versions(admin_client, cast):
    response = admin_client.get(url(Test, "changelist"))
    rows = {str(r): r.has_newer for r in response.context["cl"].result_list}
    assert rows[cast["test_old"].kim_id] is True and rows[cast["test"].kim_id] is False


def test_sim_model_page_shows_only_simulator_models(admin_client, cast):
    from repository.models import SimulatorModel

    assert changelist_ids(admin_client, SimulatorModel) == {cast["simulator"].kim_id}


def test_result_page_links_its_runner_and_lists_its_values(admin_client, cast):
    response = admin_client.get(url(TestResult, "change", cast["tr"].pk))
    assert b"atomic-mass" in response.content and b"39.9" in response.content
    listing = admin_client.get(url(TestResult, "changelist")).content.decode()
    assert f'href="{url(Test, "change", cast["test"].pk)}"' in listing


@pytest.mark.parametrize("model", [Test, Model, TestResult, Error, ReferenceDatum, PropertyValue])
def test_changelist_costs_the_same_queries_for_more_rows(admin_client, cast, model):
    def count():
        with CaptureQueriesContext(connection) as queries:
            assert admin_client.get(url(model, "changelist")).status_code == 200
        return len(queries)

    before = count()
    test, model_row = cast["test"], cast["model"]
    for i in range(5):
        driver = TestDriver.objects.create(kim_id=f"More__TD_00000000100{i}_000")
        more_test = Test.objects.create(kim_id=f"More__TE_00000000100{i}_000", driver=driver)
        more_model = Model.objects.create(kim_id=f"More__MO_00000000100{i}_000", driver=cast["md"])
        ReferenceDatum.objects.create(kim_id=f"More__RD_00000000100{i}_000", property=cast["prop"])
        tr = TestResult.objects.create(kim_id=f"TR_00000000100{i}_000", test=more_test,
                                       model=more_model, created_at=NOW)
        PropertyValue.objects.create(result=tr, instance=1, property_id="p", property_name="p",
                                     key="a", value=i)
        Error.objects.create(kim_id=f"ER_00000000100{i}_000", test=test, model=model_row,
                             category="timeout", message="x", created_at=NOW)
    assert count() == before


@pytest.mark.parametrize("model", [Test, Model, VerificationCheck])
def test_items_that_run_offer_the_queue_actions(admin_client, model):
    response = admin_client.get(url(model, "changelist"))
    offered = {name for name, _ in response.context["action_form"].fields["action"].choices}
    assert {"run_all_matching", "rerun", "approve", "cancel"} <= offered


def test_adding_an_item_checks_its_kim_id(admin_client):
    add = url(Test, "add")
    response = admin_client.post(add, {"kim_id": "Bad__MO_000000000001_000", "status": "approved",
                                       "species": "[]", "matching_models": "[]"})
    assert response.status_code == 200
    assert "expected TE" in str(response.context["adminform"].form.errors["kim_id"])
    assert not Test.objects.exists()
    response = admin_client.post(add, {"kim_id": "Good__TE_000000000001_000", "status": "approved",
                                       "species": '["Ar"]', "matching_models": "[]"})
    assert response.status_code == 302, response.context and response.context["adminform"].form.errors
    assert Test.objects.get().species == ["Ar"]


def _test_form(test, depends_on) -> dict:
    return {"title": test.title, "description": "", "species": '["Ar"]', "kim_api_version": "2.3",
            "status": "approved", "matching_models": '["standard-models"]', "simulator_name": "",
            "timeout": "", "driver": "", "depends_on": [t.pk for t in depends_on]}


def test_editing_a_test_refuses_upstream_that_closes_a_dependency_cycle(admin_client):
    lattice = make_test("LatticeConstant_Ar_fcc", 50)
    elastic = make_test("ElasticConstants_Ar_fcc", 51, depends_on=[lattice])
    phonon = make_test("Phonon_Ar_fcc", 52, depends_on=[elastic])
    response = admin_client.post(url(Test, "change", lattice.pk), _test_form(lattice, [phonon]))
    assert response.status_code == 200
    errors = str(response.context["adminform"].form.errors["depends_on"])
    assert "dependency cycle" in errors
    assert all(t.kim_id in errors for t in (lattice, elastic, phonon))
    assert list(lattice.depends_on.all()) == []
    # A new version of an upstream closes it too: lineages are compared, not rows.
    newer_lattice = make_test("LatticeConstant_Ar_fcc", 50, version=1)
    response = admin_client.post(url(Test, "change", newer_lattice.pk),
                                 _test_form(newer_lattice, [phonon]))
    assert "dependency cycle" in str(response.context["adminform"].form.errors["depends_on"])
    # Without the cycle the same form saves.
    response = admin_client.post(url(Test, "change", phonon.pk), _test_form(phonon, [elastic, lattice]))
    assert response.status_code == 302
    assert set(phonon.depends_on.all()) == {elastic, lattice}



def test_a_test_timeout_longer_than_the_cluster_allows_is_refused_naming_both(admin_client, settings):
    settings.JOB_TIMEOUT = 400
    test = make_test()
    form = {**_test_form(test, []), "timeout": "1000"}
    response = admin_client.post(url(Test, "change", test.pk), form)
    errors = str(response.context["adminform"].form.errors["timeout"])
    assert "1000 s" in errors and "JOB_TIMEOUT is 400 s" in errors
    assert Test.objects.get(pk=test.pk).timeout is None
    response = admin_client.post(url(Test, "change", test.pk), {**form, "timeout": "200"})
    assert response.status_code == 302
    assert Test.objects.get(pk=test.pk).timeout == 200
