"""The documents are kept in step with the rows (results, items, reference data) and
``rebuildquerydocs`` makes the same documents again from the rows."""

from io import StringIO

import pytest
from django.core.management import call_command

from queryapi import api
from queryapi.models import QueryDocument
from repository.models import ReferenceDatum, TestDriver, TestResult
from tests.factories import (
    _when,
    make_check,
    make_model,
    make_result,
    make_test,
    make_verification_result,
)

pytestmark = pytest.mark.django_db

STRUCTURE = "tag:staff@noreply.openkim.org,2014-04-15:property/structure-cubic-crystal-npt"


def lattice(a: float, unit: str = "angstrom", instance_id: int = 1) -> dict:
    return {"property-id": STRUCTURE, "instance-id": instance_id,
            "a": {"source-value": a, "source-unit": unit, "source-std-uncert-value": 0.01},
            "short-name": {"source-value": ["fcc"]}, "species": {"source-value": ["Al"] * 4}}


def data(query: dict, **params):
    return api.query({"database": "data", "query": query, **params})


@pytest.fixture
def pair():
    driver = TestDriver.objects.create(kim_id="LatticeConstantCubicEnergy__TD_475411767977_000",
                                       title="driver")
    return (make_test("LatticeConstantCubicEnergy_fcc_Al", 51, species=("Al",), driver=driver),
            make_model("EAM_Al", 31, species=("Al",)))


def test_a_result_gives_one_document_per_instance_with_si_values_and_meta(pair):
    test, model = pair
    result = make_result(test, model, 1, instances=[lattice(4.05), lattice(0.41, "nm", 2)])
    docs = data({"meta.uuid": result.kim_id}, sort="instance-id")
    assert [d["instance-id"] for d in docs] == [1, 2]
    first = docs[0]
    assert first["a"]["si-value"] == pytest.approx(4.05e-10)
    assert first["a"]["si-std-uncert-value"] == pytest.approx(1e-12)
    assert first["a"]["si-unit"] == "m"
    assert docs[1]["a"]["si-value"] == pytest.approx(4.1e-10)
    assert first["species"]["si-value"] == ["Al"] * 4  # a unitless key answers si-value too
    meta = first["meta"]
    assert meta["runner"]["kimcode"] == test.kim_id
    assert meta["runner"]["shortcode"] == "TE_000000000051"
    assert meta["runner"]["kimnum"] == "000000000051" and meta["runner"]["version"] == 0
    assert meta["runner"]["driver"]["kimcode"] == "LatticeConstantCubicEnergy__TD_475411767977_000"
    assert meta["subject"]["kimcode"] == model.kim_id and meta["subject"]["type"] == "mo"
    assert (meta["uuid"], meta["type"]) == (result.kim_id, "tr")
    assert meta["created_on"] == result.created_at.isoformat()
    assert first["latest"] is True


def test_a_newer_result_of_the_pair_is_latest_and_history_keeps_the_older(pair):
    test, model = pair
    older = make_result(test, model, 1, minutes=0, instances=[lattice(4.00)])
    newer = make_result(test, model, 2, minutes=5, instances=[lattice(4.05)])
    assert data({"meta.subject.kimcode": model.kim_id}, project=["meta.uuid"]) == [newer.kim_id]
    assert sorted(data({"meta.subject.kimcode": model.kim_id}, project=["meta.uuid"], history=True)) == [
        older.kim_id, newer.kim_id]
    newer.delete()
    assert data({"meta.subject.kimcode": model.kim_id}, project=["meta.uuid"]) == [older.kim_id]
    assert not QueryDocument.objects.filter(source=newer.kim_id).exists()


def test_a_new_version_of_the_test_or_the_model_leaves_the_old_results_not_latest(pair):
    test, model = pair
    result = make_result(test, model, 1, instances=[lattice(4.05)])
    newer = make_test("LatticeConstantCubicEnergy_fcc_Al", 51, version=1, species=("Al",))
    assert data({"meta.uuid": result.kim_id}) == []
    assert data({"meta.uuid": result.kim_id}, history=True, project=["latest"]) == [False]
    objects = api.query({"database": "obj", "query": {"kimnum": "000000000051"}, "history": True,
                         "project": ["kimcode", "latest"], "sort": "version"})
    assert objects == [[test.kim_id, False], [newer.kim_id, True]]
    newer_model = make_model("EAM_Al", 31, version=1, species=("Al",))
    newer.delete()
    assert data({"meta.uuid": result.kim_id}) == []  # the model's new version, now
    newer_model.delete()
    assert data({"meta.uuid": result.kim_id}, project=["latest"]) == [True]


def test_obj_documents_verification_results_and_reference_data(pair):
    test, model = pair
    check = make_check()
    verification = make_verification_result(check, model, 7, instances=[
        {"property-id": "tag:x,2020-01-01:property/verification-check", "instance-id": 1,
         "grade": {"source-value": "P"}}])
    datum = ReferenceDatum.objects.create(
        kim_id="LatticeConstant_fcc_Al_Kittel2005__RD_000000000099_000", species=["Al"],
        data=[lattice(4.05)])
    assert data({"meta.type": "vr"}, project=["meta.uuid"]) == [verification.kim_id]
    assert data({"meta.type": "rd"}, project=["meta.uuid", "a.si-value"]) == [
        [datum.kim_id, pytest.approx(4.05e-10)]]
    model_doc = api.query({"database": "obj", "query": {"type": "mo"}})[0]
    assert model_doc["kimcode"] == model.kim_id and model_doc["species"] == ["Al"]
    assert model_doc["shortcode"] == "MO_000000000031" and model_doc["latest"] is True
    assert sorted(api.query({"database": "obj", "query": {}, "distinct": "type"})) == [
        "mo", "rd", "td", "te", "vc"]


def test_rebuildquerydocs_makes_the_same_documents_from_the_rows(pair):
    test, model = pair
    make_result(test, model, 1, minutes=0, instances=[lattice(4.00)])
    make_result(test, model, 2, minutes=5, instances=[lattice(4.05), lattice(4.06, instance_id=2)])

    def everything():
        return sorted((row.database, row.key, row.source, row.kind, row.runner_kimcode,
                       row.subject_kimcode, row.property_id, row.latest, repr(row.document))
                      for row in QueryDocument.objects.all())

    kept = everything()
    out = StringIO()
    QueryDocument.objects.all().delete()
    call_command("rebuildquerydocs", stdout=out)
    assert "3 data documents" in out.getvalue()
    assert everything() == kept


@pytest.mark.kimapi
def test_the_installed_kim_api_items_have_obj_documents_once_registered(kim_api_dir):
    from repository.installed import register_installed_items
    from repository.models import Model, ModelDriver

    register_installed_items()

    eam = "EAM_CubicNaturalSpline_AngeloMoodyBaskes_1995_Ni__MO_800536961967_003"
    [doc] = api.query({"database": "obj", "query": {"kimcode": eam}})
    assert doc["type"] == "mo" and doc["species"] == ["Ni"]
    assert doc["driver"]["kimcode"] == "EAM_CubicNaturalSpline__MD_853402641673_002"
    assert api.query({"database": "obj", "query": {"type": {"$in": ["mo", "sm", "md"]}},
                      "count": True}) == Model.objects.count() + ModelDriver.objects.count()


def test_results_arriving_in_any_order_leave_the_flags_a_full_recompute_gives(pair):
    """A new result sets its own flag and clears older ones (queryapi.sync.write_outcome): for
    results of two test versions and two model versions arriving out of order, with a tie of
    the same versions at the same instant, the flags equal those of refresh_latest."""
    import random

    from queryapi import sync

    test, model = pair
    newer_test = make_test("LatticeConstantCubicEnergy_fcc_Al", 51, version=1, species=("Al",))
    newer_model = make_model("EAM_Al", 31, version=1, species=("Al",))
    other_model = make_model("EAM_Al", 32, species=("Al",))
    arrivals = [(t, m, minutes) for t in (test, newer_test) for m in (model, newer_model, other_model)
                for minutes in (0, 5)]
    arrivals.append((newer_test, newer_model, 5))  # the same versions at the same instant: a tie
    random.Random(13).shuffle(arrivals)

    def flags():
        return dict(QueryDocument.objects.filter(database="data").values_list("source", "latest"))

    for number, (t, m, minutes) in enumerate(arrivals, 1):
        make_result(t, m, number, minutes=minutes, instances=[lattice(4.0 + number / 100)])
        incremental = flags()
        sync.refresh_latest(runner_number=test.number)
        assert incremental == flags(), f"after arrival {number}"
    latest = {source for source, flag in flags().items() if flag}
    tied = {r.kim_id for r in TestResult.objects.filter(test=newer_test, model=newer_model,
                                                         created_at=_when(5))}
    other_pair_newest = {f"TR_{n:012d}_000" for n, arrival in enumerate(arrivals, 1)
                         if arrival == (newer_test, other_model, 5)}
    assert len(tied) == 2 and tied | other_pair_newest == latest
