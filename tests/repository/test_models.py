"""Item and result models: QuerySet questions, kim_obj, latest outcomes and the database constraints."""


import pytest
from django.db import IntegrityError, connection, transaction

from repository.errors import InvalidKIMID, PipelineSearchError
from repository.models import (
    Error,
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
    kim_obj,
)
from tests.factories import NOW, make_error, make_model, make_result, make_test

pytestmark = pytest.mark.django_db

# -- items -------------------------------------------------------------------------------------


def test_save_fills_the_parts_of_the_id():
    test = make_test(version=7)
    assert (test.name, test.leader, test.number, test.version) == (
        "LatticeConstant_Ar_fcc", "TE", "000000000050", 7)
    assert str(test) == test.kim_id
    assert make_model(leader="SM").kind == Model.Kind.SIMULATOR
    assert make_model(number="000000000031").kind == Model.Kind.PORTABLE


@pytest.mark.parametrize("kim_id, message", [
    ("LJ_Ar__MO_000000000030_000", "not MO"),
    ("LatticeConstant__TE_000000000050", "no version"),
    ("LatticeConstant__TE_0050_000", "malformed KIM ID"),
])
def test_save_refuses_an_id_this_kind_cannot_have(kim_id, message):
    with pytest.raises(InvalidKIMID, match=message):
        Test.objects.create(kim_id=kim_id)
    assert not Test.objects.exists()


def test_latest_versions_keeps_the_highest_of_each_lineage():
    make_test(version=0)
    make_test(version=2)
    make_test(version=1)
    other = make_test(number="000000000051", name="BulkModulus_Ar_fcc")
    latest = Test.objects.latest_versions()
    assert sorted(t.kim_id for t in latest) == sorted([
        "LatticeConstant_Ar_fcc__TE_000000000050_002", other.kim_id])
    assert [t.is_latest_version for t in Test.objects.order_by("number", "version")] == [
        False, False, True, True]


def test_resolve_by_full_id_without_name_and_without_version():
    v0, v1 = make_test(version=0), make_test(version=1)
    assert Test.objects.resolve(v0.kim_id) == v0
    assert Test.objects.resolve("TE_000000000050_000") == v0
    assert Test.objects.resolve("TE_000000000050") == v1
    assert Test.objects.resolve("LatticeConstant_Ar_fcc__TE_000000000050") == v1
    with pytest.raises(PipelineSearchError, match="TE_000000000050_002"):
        Test.objects.resolve("TE_000000000050_002")
    with pytest.raises(PipelineSearchError):
        Test.objects.resolve("WrongName__TE_000000000050_000")
    with pytest.raises(InvalidKIMID):
        Test.objects.resolve("TE_50")


def test_with_species_matches_whole_symbols_case_insensitively():
    argon = make_model(species=["Ar"])
    aluminium = make_model(number="000000000032", name="EAM_Al", species=["Al", "Ni"])
    make_model(number="000000000033", name="Nothing", species=[])
    assert list(Model.objects.with_species("Ar")) == [argon]
    assert list(Model.objects.with_species("ni")) == [aluminium]
    assert not Model.objects.with_species("A").exists()
    assert not Model.objects.with_species("N").exists()


def test_kim_obj_finds_every_kind_by_its_leader():
    driver = TestDriver.objects.create(kim_id="LC__TD_000000000010_000")
    model_driver = ModelDriver.objects.create(kim_id="LJ__MD_000000000020_000")
    test = make_test(driver=driver)
    newer_test = make_test(version=1, driver=driver)
    model = make_model(driver=model_driver)
    simulator = make_model(number="000000000031", leader="SM", name="Sim_Ar")
    prop = Property.objects.create(kim_id="Mass__PR_000000000001_000", property_id="tag:x:property/mass")
    datum = ReferenceDatum.objects.create(kim_id="Mass_Ar__RD_000000000040_000", property=prop)
    check = VerificationCheck.objects.create(kim_id="Species__VC_000000000060_000")
    tr = make_result(test, model, 1)
    vr = VerificationResult.objects.create(kim_id="VR_000000000002_000", verification_check=check,
                                           model=model, created_at=NOW, grade="P")
    er = make_error(model, 3, test=test)
    for item in (driver, model_driver, test, model, simulator, prop, datum, check, tr, vr, er):
        assert kim_obj(item.kim_id) == item
    assert kim_obj("TE_000000000050") == newer_test
    assert kim_obj("TR_000000000001") == tr
    with pytest.raises(PipelineSearchError, match="no kind of item has leader VM"):
        kim_obj("VM_000000000001_000")
    with pytest.raises(PipelineSearchError):
        kim_obj("TR_000000000099_000")


def test_unique_version_per_lineage_even_under_another_name():
    make_test(name="First")
    with pytest.raises(IntegrityError), transaction.atomic():
        make_test(name="Second")
    assert Test.objects.count() == 1


# -- results and errors ------------------------------------------------------------------------


def test_result_values_answer_by_property_or_key():
    test, model = make_test(), make_model()
    tr = make_result(test, model, 1)
    PropertyValue.objects.create(result=tr, instance=1, property_id="tag:x:property/structure",
                                 property_name="structure", key="a", value=5.26, unit="angstrom")
    assert tr["a"] == (5.26, "angstrom")
    assert tr["structure"] == (5.26, "angstrom")
    with pytest.raises(KeyError, match="no property or key 'c'"):
        tr["c"]
    with pytest.raises(IntegrityError), transaction.atomic():
        PropertyValue.objects.create(result=tr, instance=1, property_id="p", property_name="p",
                                     key="a", value=1)


def test_outcome_copies_the_lineages_of_runner_and_subject():
    tr = make_result(make_test(version=3), make_model(version=2), 1)
    assert (tr.runner_number, tr.runner_version, tr.subject_number, tr.subject_version) == (
        "000000000050", 3, "000000000030", 2)


def test_error_belongs_to_at_most_one_runner():
    model = make_model()
    check = VerificationCheck.objects.create(kim_id="Species__VC_000000000060_000")
    with pytest.raises(IntegrityError), transaction.atomic():
        Error.objects.create(kim_id="ER_000000000001_000", test=make_test(), verification_check=check,
                             model=model, category=Error.Category.NONZERO_EXIT, message="x",
                             created_at=NOW)
    assert not Error.objects.exists()


def test_error_without_runner_only_for_a_build():
    model = make_model()
    with pytest.raises(IntegrityError), transaction.atomic():
        make_error(model, 1, category=Error.Category.TIMEOUT)
    build = Error.objects.create(kim_id="ER_000000000002_000", model=None, built_item="LJ__MD_000000000020_000",
                                 category=Error.Category.BUILD, message="cmake failed", created_at=NOW)
    assert (build.runner, build.runner_number, build.subject_number) == (None, "", "")


def test_outcome_refuses_a_wrong_leader():
    test, model = make_test(), make_model()
    with pytest.raises(InvalidKIMID, match="expected TR"):
        TestResult.objects.create(kim_id="ER_000000000009_000", test=test, model=model, created_at=NOW)
    assert not TestResult.objects.exists()


@pytest.mark.parametrize("table, wanted", [
    (TestResult, {"testresult_created": ["created_at"], "testresult_subject": ["subject_number", "runner_number"]}),
    (VerificationResult, {"verificationresult_created": ["created_at"],
                          "verificationresult_subject": ["subject_number", "runner_number"]}),
    (Error, {"error_created": ["created_at"], "error_subject": ["subject_number", "runner_number"]}),
])
def test_outcome_tables_have_the_indexes_their_orderings_and_subject_lookups_need(table, wanted):
    with connection.cursor() as cursor:
        found = connection.introspection.get_constraints(cursor, table._meta.db_table)
    assert {name: found[name]["columns"] for name in wanted if name in found} == wanted
    if connection.vendor == "sqlite":
        # The newest-first lists read the index instead of sorting the whole table.
        plan = str(table.objects.order_by("-created_at")[:20].explain())
        assert "_created" in plan and "TEMP B-TREE" not in plan
