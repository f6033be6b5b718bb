"""repository.dependencies: every source of a dependency, and the graph check (cycles, depth)."""

import pytest

from repository.dependencies import Upstream, check_graph, declared_upstream, resolve_test
from repository.errors import (
    DependencyCycle,
    DependencyTooDeep,
    PipelineDependencyError,
    PipelineEDNError,
    PipelineSearchError,
)
from tests import factories as f

UP = "LatticeConstantCubicEnergy_fcc_Ar__TE_000000000050"
MO = "LJ_Ar__MO_000000000030_000"


def write(folder, files=None):
    """A test folder holding ``files`` (name → text)."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in (files or {}).items():
        (folder / name).write_text(text)
    return folder


def test_dependencies_edn_lists_tests_of_the_subject_model(tmp_path):
    folder = write(tmp_path / "t", {"dependencies.edn": f'["{UP}" "TE_000000000051_002"]'})
    assert declared_upstream(folder, "2020") == [Upstream(UP), Upstream("TE_000000000051_002")]


def test_dependencies_edn_that_is_not_a_list_of_test_ids_is_a_named_error(tmp_path):
    folder = write(tmp_path / "a", {"dependencies.edn": '{"a" 1}'})
    with pytest.raises(PipelineDependencyError, match="dependencies.edn is not an EDN list"):
        declared_upstream(folder, "2020")
    folder = write(tmp_path / "b", {"dependencies.edn": f'["{MO}"]'})
    with pytest.raises(PipelineDependencyError, match="is not a TE KIM ID") as caught:
        declared_upstream(folder, "2020")
    assert caught.value.path == folder / "dependencies.edn"
    folder = write(tmp_path / "c", {"dependencies.edn": '["TE_000000000051"'})
    with pytest.raises(PipelineEDNError, match="dependencies.edn is not valid EDN"):
        declared_upstream(folder, "2020")


def test_literal_get_test_result_calls_of_the_template_count(tmp_path):
    template = (
        f'@< get_test_result(["{UP}"], [MODELNAME], ["structure-cubic-crystal-npt"], ["a"], ["angstrom"])[0][0] >@\n'
        f'@< get_test_result(["TE_000000000052"], ["{MO}"], ["x"], ["a"]) >@\n'
        # The test or the model computed by the template: only the render can tell.
        '@[ set t = "TE_000000000053" ]@@< get_test_result([t], [MODELNAME], ["x"], ["a"]) >@\n'
        '@< get_test_result(["TE_000000000054"], [other], ["x"], ["a"]) >@\n'
    )
    folder = write(tmp_path / "t", {"pipeline.stdin.tpl": template})
    assert declared_upstream(folder, "2020") == [Upstream(UP), Upstream("TE_000000000052", MO)]


def test_query_references_by_literal_id_or_by_openkim_regex_count(tmp_path):
    template = (
        '@< query({"query": {"meta.runner.kimcode": {"$regex": "LatticeConstantCubicEnergy_fcc_Al__TE_[0-9]{12}"}, '
        '"meta.subject.kimcode": MODELNAME, "property-id": {"$regex": "property/structure-cubic-crystal-npt"}}, '
        '"project": ["a.si-value"], "database": "data", "limit": 1}) >@\n'
        '@< query({"query": {"meta.runner.kimcode": {"$regex": "^Cohesive_fcc_Al__TE_000000000061"}}}) >@\n'
        f'@< query({{"query": {{"meta.runner.kimcode": "{UP}_001", "meta.subject.kimcode": "{MO}"}}}}) >@\n'
        # No runner named, or a regex of another shape: nothing to wait for.
        '@< query({"query": {"property-id": "x"}}) >@\n'
        '@< query({"query": {"meta.runner.kimcode": {"$regex": "Lattice.*"}}}) >@\n'
    )
    folder = write(tmp_path / "t", {"pipeline.stdin.tpl": template})
    assert declared_upstream(folder, "2020") == [
        Upstream("LatticeConstantCubicEnergy_fcc_Al__TE_[0-9]{12}"),
        Upstream("Cohesive_fcc_Al__TE_000000000061"),
        Upstream(f"{UP}_001", MO),
    ]


def test_every_2020_source_together_each_pair_once(tmp_path):
    folder = write(tmp_path / "t", {
        "dependencies.edn": f'["{UP}"]',
        "pipeline.stdin.tpl": f'@< get_test_result(["{UP}"], [MODELNAME], ["x"], ["a"]) >@'
                              '@< get_test_result(["TE_000000000052"], [MODELNAME], ["x"], ["a"]) >@',
    })
    assert declared_upstream(folder, "2020") == [Upstream(UP), Upstream("TE_000000000052")]


def test_template_that_does_not_parse_declares_only_its_dependencies_edn(tmp_path):
    folder = write(tmp_path / "t", {"dependencies.edn": f'["{UP}"]',
                                      "pipeline.stdin.tpl": '@< get_test_result(["TE_000000000052"] >@'})
    assert declared_upstream(folder, "2020") == [Upstream(UP)]


def test_2012_data_directives_name_test_and_model(tmp_path):
    pipeline_in = (
        "@DATA[LatticeConstantCubicEnergy_Fe_fcc__TE_248695510051_000][@MODELNAME][PR_000000000001_000]\n"
        f"@DATA[TE_248695510053][{MO}][PR_000000000001_000]\n"
        "@DATA[RD_000000000040_000]\n@DATA[TR_000000000001_000][PR_000000000001_000]\n@MODELNAME\n"
    )
    folder = write(tmp_path / "t", {"pipeline.in": pipeline_in,
                                      "dependencies.edn": '["TE_000000000099"]'})
    # 2012 items have no dependencies.edn: the directives are the declaration.
    assert declared_upstream(folder, "2012") == [
        Upstream("LatticeConstantCubicEnergy_Fe_fcc__TE_248695510051_000"),
        Upstream("TE_248695510053", MO),
    ]


def test_a_folder_without_any_declaration_has_no_upstream(tmp_path):
    assert declared_upstream(write(tmp_path / "t"), "2020") == []
    assert declared_upstream(write(tmp_path / "u"), "2012") == []


# -- the graph ------------------------------------------------------------------------------


def upstream(test):
    return test.depends_on.all()


@pytest.mark.django_db
def test_chain_within_the_bound_and_a_diamond_pass():
    a = f.make_test("A", 1)
    b = f.make_test("B", 2, depends_on=[a])
    c = f.make_test("C", 3, depends_on=[a])
    d = f.make_test("D", 4, depends_on=[b, c])  # a reaches d twice: not a cycle
    check_graph(d, upstream, bound=2)


@pytest.mark.django_db
def test_cycle_is_named_test_by_test():
    a = f.make_test("A", 1)
    b = f.make_test("B", 2, depends_on=[a])
    c = f.make_test("C", 3, depends_on=[b])
    a.depends_on.add(c)
    with pytest.raises(DependencyCycle) as caught:
        check_graph(c, upstream, bound=8)
    assert caught.value.cycle == [c.kim_id, b.kim_id, a.kim_id, c.kim_id]
    assert "dependency cycle" in str(caught.value) and isinstance(caught.value, PipelineDependencyError)


@pytest.mark.django_db
def test_a_new_version_depending_on_its_dependent_closes_a_cycle_by_lineage():
    old = f.make_test("A", 1, 0)
    b = f.make_test("B", 2, depends_on=[old])
    new = f.make_test("A", 1, 1, depends_on=[b])
    with pytest.raises(DependencyCycle) as caught:
        check_graph(new, upstream, bound=8)
    assert caught.value.cycle == [new.kim_id, b.kim_id, old.kim_id]


@pytest.mark.django_db
def test_chain_longer_than_the_bound_is_too_deep():
    tests = [f.make_test("T", 1)]
    for number in range(2, 5):
        tests.append(f.make_test("T", number, depends_on=[tests[-1]]))
    check_graph(tests[-1], upstream, bound=3)
    with pytest.raises(DependencyTooDeep) as caught:
        check_graph(tests[-1], upstream, bound=2)
    assert (caught.value.bound, len(caught.value.chain)) == (2, 4)
    assert "deeper than 2" in str(caught.value)


@pytest.mark.django_db
def test_a_longer_second_path_into_a_test_already_seen_is_measured_too():
    # top → a → base is short and seen first; top → x1 → x2 → a → base is one edge too many.
    base = f.make_test("Base", 1)
    a = f.make_test("A", 2, depends_on=[base])
    x2 = f.make_test("X2", 3, depends_on=[a])
    x1 = f.make_test("X1", 4, depends_on=[x2])
    top = f.make_test("Top", 5, depends_on=[a, x1])
    check_graph(top, lambda t: sorted(t.depends_on.all(), key=lambda u: u.number), bound=4)
    with pytest.raises(DependencyTooDeep) as caught:
        check_graph(top, lambda t: sorted(t.depends_on.all(), key=lambda u: u.number), bound=3)
    assert caught.value.chain == [top.kim_id, x1.kim_id, x2.kim_id, a.kim_id, base.kim_id]


@pytest.mark.django_db
def test_resolve_test_by_id_or_by_name_only():
    f.make_test("Lattice_Al", 7, 0)
    latest = f.make_test("Lattice_Al", 7, 2)
    assert resolve_test("TE_000000000007") == latest
    assert resolve_test("Lattice_Al__TE_[0-9]{12}") == latest
    with pytest.raises(PipelineSearchError, match="no test is named 'Nobody'"):
        resolve_test("Nobody__TE_[0-9]{12}")
