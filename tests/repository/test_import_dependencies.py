"""Dependencies at import: depends_on from every declaration, cycles and too deep chains refused."""

import pytest

from repository import storage
from repository.importer import import_repository
from repository.models import Test
from tests.repository import builders as b

pytestmark = pytest.mark.django_db

READS_B = ('@< get_test_result(["TE_000000000051"], [MODELNAME], ["bulk-modulus-isothermal-cubic-crystal-npt"], '
           '["K"], ["GPa"])[0][0] >@\n')
QUERIES_A_BY_NAME = ('@< query({"query": {"meta.runner.kimcode": {"$regex": "LatticeConstant_Ar_fcc__TE_[0-9]{12}"}, '
                     '"meta.subject.kimcode": MODELNAME}, "project": ["a.si-value"], "limit": 1}) >@\n')


def depends_on(kim_id: str) -> list[str]:
    return sorted(Test.objects.get(kim_id=kim_id).depends_on.values_list("kim_id", flat=True))


def test_template_reading_an_undeclared_upstream_has_it_in_depends_on(source, repository_dir):
    # No dependencies.edn: only the template says what this test reads.
    reader = "ReadsBulkModulus__TE_000000000095_000"
    b.item_2020(source, reader, runner=True, template=True, test_driver=b.TD_2020,
                files={"pipeline.stdin.tpl": "@< MODELNAME >@\n" + READS_B + QUERIES_A_BY_NAME})

    report = import_repository(source)

    assert report.rejected == []
    assert depends_on(reader) == sorted([b.TE_A1, b.TE_B])
    # ...and it is imported after what it reads, whatever the names.
    assert report.created.index(reader) > report.created.index(b.TE_B)


def test_template_reading_a_test_that_is_not_there_is_rejected(source, repository_dir):
    orphan = b.item_2020(source, "ReadsNothing__TE_000000000096_000", runner=True, template=True,
                         files={"pipeline.stdin.tpl": '@< get_test_result(["TE_000000000666"], [MODELNAME], '
                                                      '["x"], ["a"]) >@\n'})
    report = import_repository(source)
    assert "dependency: test TE_000000000666 is not in the database" in dict(report.rejected)[orphan]


def test_new_version_closing_a_cycle_is_refused_and_the_old_version_stays(source, repository_dir):
    import_repository(source)
    before = {kim_id: depends_on(kim_id) for kim_id in (b.TE_A0, b.TE_A1, b.TE_B)}
    # TE_B depends on lineage 050; a new version of 050 that depends on TE_B closes the cycle.
    closing = "LatticeConstant_Ar_fcc__TE_000000000050_002"
    folder = b.item_2020(source, closing, runner=True, template=True, test_driver=b.TD_2020,
                         dependencies=["TE_000000000051"])

    report = import_repository(source)

    reason = dict(report.rejected)[folder]
    assert "dependency cycle" in reason and closing in reason and b.TE_B in reason
    assert not Test.objects.filter(kim_id=closing).exists()
    assert not storage.item_path(closing).exists()
    assert not [p for p in (repository_dir / "te").iterdir() if p.name.startswith(".")]
    assert {kim_id: depends_on(kim_id) for kim_id in before} == before
    assert Test.objects.lineage(Test.objects.get(kim_id=b.TE_A1).code).latest_versions().get().kim_id == b.TE_A1


def test_cycle_through_a_template_reference_is_refused(source, repository_dir):
    import_repository(source)
    closing = "LatticeConstant_Ar_fcc__TE_000000000050_003"
    folder = b.item_2020(source, closing, runner=True, template=True, test_driver=b.TD_2020,
                         files={"pipeline.stdin.tpl": READS_B})
    report = import_repository(source)
    assert "dependency cycle" in dict(report.rejected)[folder]
    assert not Test.objects.filter(kim_id=closing).exists()


def test_chain_deeper_than_the_bound_is_refused_at_import(source, repository_dir, settings):
    settings.PIPELINE_MAX_DEPENDENCY_DEPTH = 1
    deep = b.item_2020(source, "Third__TE_000000000097_000", runner=True, template=True,
                       dependencies=["TE_000000000051"])

    report = import_repository(source)

    assert report.rejected == [(deep, f"refused: dependency chain deeper than 1: "
                                      f"Third__TE_000000000097_000 → {b.TE_B} → {b.TE_A1}")]
    assert depends_on(b.TE_B) == [b.TE_A1]
