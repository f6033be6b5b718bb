"""runner.template: one sandbox for both syntaxes, its globals, and what it refuses."""

import json
import os

import pytest
from django.utils import timezone
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from repository import kimcodes
from repository.errors import PipelineDataMissing, PipelineTemplateError
from repository.models import ReferenceDatum, SourceFormat, TestDriver, TestResult
from runner.template import (
    convert,
    missing_upstream,
    render_input,
    render_text,
    required_upstream,
    translate_2012,
)
from tests.fixtures.runner.cast import AL_MODEL, installed_model, made_test

pytestmark = pytest.mark.django_db

STRUCTURE = "tag:staff@noreply.openkim.org,2014-04-15:property/structure-cubic-crystal-npt"
UPSTREAM = "LatticeConstant_fcc_Al__TE_000000000011_000"
DOWNSTREAM = "Dependent_fcc_Al__TE_000000000012_000"


@pytest.fixture
def model(repository_dir):
    return installed_model()


@pytest.fixture
def test_item(repository_dir):
    return made_test(DOWNSTREAM, {"pipeline.stdin.tpl": "@< MODELNAME >@\n", "runner": "#!/bin/sh\n"})


def stored_result(test, model, instances) -> TestResult:
    return TestResult.objects.create(kim_id=str(kimcodes.new_result_code("TR")), test=test,
                                     model=model, created_at=timezone.now(), instances=instances)


def lattice_instance(a: float, unit: str = "angstrom", instance_id: int = 1) -> dict:
    return {"property-id": STRUCTURE, "instance-id": instance_id,
            "a": {"source-value": a, "source-unit": unit},
            "species": {"source-value": ["Al"] * 4}}


def render(source, runner_item, model, **options):
    return render_text(source, runner_item, model, filename="pipeline.stdin.tpl", **options).text


# ---------------------------------------------------------------------------------------------
# Syntax and globals


def test_a_template_compiled_once_renders_each_model_and_each_new_text_afresh(test_item, model):
    """A worker keeps a template's compiled code (runner.template.render): the next model gets
    its own values, changed text is compiled again, and a syntax error is an error every time."""
    other = installed_model("LJ_ElliottAkerson_2015_Universal__MO_959249795837_003", ("Al",))
    source = "@< MODELNAME >@ @< 2 + 3 >@\n"
    assert render(source, test_item, model) == f"{model.kim_id} 5\n"
    assert render(source, test_item, other) == f"{other.kim_id} 5\n"
    assert render(source.replace("3", "4"), test_item, other) == f"{other.kim_id} 6\n"
    for _ in range(2):
        with pytest.raises(PipelineTemplateError, match="syntax"):
            render("@< 2 + >@\n", test_item, model)


def test_delimiters_globals_and_filters(test_item, model):
    source = ("@# a comment that leaves nothing #@@< MODELNAME >@ @< TESTNAME | stripversion >@\n"
              "@[ for s in ['Al', 'Ni'] ]@@< s >@ @[ endfor ]@\n"
              "@< {'a': [1, 2]} | json >@ @< {'a': [1, 2]} | edn >@\n")
    text = render(source, test_item, model)
    assert text.splitlines() == [
        f"{AL_MODEL} Dependent_fcc_Al__TE_000000000012",
        "Al Ni ",
        '{"a": [1, 2]} {"a" [1 2]}',
    ]


def test_an_undefined_name_is_a_template_error_with_its_line(test_item, model):
    with pytest.raises(PipelineTemplateError) as caught:
        render("@< MODELNAME >@\n@< SPECIES >@\n", test_item, model)
    assert caught.value.line == 2
    assert "pipeline.stdin.tpl" in str(caught.value)
    assert "SPECIES" in str(caught.value)


def test_a_syntax_error_names_file_and_line(test_item, model):
    with pytest.raises(PipelineTemplateError) as caught:
        render("ok\nok\n@[ for x in ]@\n", test_item, model)
    assert caught.value.line == 3
    assert "syntax" in caught.value.reason


def test_convert_uses_gnu_unit_names():
    assert convert(4.05, "angstrom", "nm") == pytest.approx(0.405)
    assert convert(1.0, "eV/angstrom^3", "GPa") == pytest.approx(160.21766, rel=1e-6)
    assert convert([1.0, [2.0]], "eV", "meV") == [pytest.approx(1000.0), [pytest.approx(2000.0)]]
    assert convert(1.0, "angstrom", "SI") == pytest.approx(1e-10)
    assert convert(3.0, None, None) == 3.0
    with pytest.raises(PipelineTemplateError, match="cannot convert"):
        convert(1.0, "angstrom", "eV")


# ---------------------------------------------------------------------------------------------
# The sandbox


@pytest.mark.parametrize("escape", [
    "@< ().__class__.__mro__ >@",
    "@< ().__class__.__mro__[1].__subclasses__() >@",
    "@< MODELNAME.__class__ >@",
    "@< path.__globals__ >@",
    "@< get_test_result.__self__ >@",
    "@< convert.__globals__['os'] >@",
    "@< lipsum.__globals__['os'].environ >@",
    "@< cycler.__init__.__globals__.os.system('id') >@",
    "@< self._TemplateReference__context >@",
    "@< range.__self__ >@",
    "@< MODELNAME | attr('__class__') >@",
    "@< '{0.__class__}'.format(MODELNAME) >@",
    "@[ include '/etc/passwd' ]@",
    "@[ import '/etc/passwd' as x ]@",
    "@[ extends '/etc/passwd' ]@",
    "@< 'x' * 100000000 >@",
    "@< 7 ** 100000 >@",
])
def test_escapes_from_the_sandbox_are_template_errors(test_item, model, escape):
    with pytest.raises(PipelineTemplateError) as caught:
        render(f"line one\n{escape}\n", test_item, model)
    assert caught.value.line in (2, None)


def test_the_environment_is_out_of_reach(test_item, model, monkeypatch):
    monkeypatch.setenv("KIM_SECRET_FOR_TEST", "hidden")
    for attempt in ("@< environ >@", "@< os >@", "@< config >@", "@< settings >@"):
        with pytest.raises(PipelineTemplateError):
            render(attempt, test_item, model)


def test_path_refuses_what_is_not_an_item_of_the_repository(test_item, model, repository_dir, tmp_path):
    for bad in ('"../../etc/passwd"', '"/etc/passwd"', '"TE_000000000099_000"', '"TR_000000000001_000"'):
        with pytest.raises(PipelineTemplateError, match="path"):
            render(f"@< path({bad}) >@", test_item, model)
    # An item folder that is a link out of the repository is refused as well.
    outside = tmp_path / "outside"
    outside.mkdir()
    (repository_dir / "td").mkdir()
    os.symlink(outside, repository_dir / "td" / "Escape__TD_000000000098_000")
    TestDriver.objects.create(kim_id="Escape__TD_000000000098_000")  # path() answers imported items
    with pytest.raises(PipelineTemplateError, match="outside the repository"):
        render('@< path("Escape__TD_000000000098_000") >@', test_item, model)


def test_path_gives_the_latest_version_s_2012_executable(test_item, model, repository_dir):
    for version in ("000", "002", "001"):
        folder = repository_dir / "td" / f"Driver__TD_000000000077_{version}"
        folder.mkdir(parents=True)
        (folder / folder.name).write_text("#!/bin/sh\n")
        TestDriver.objects.create(kim_id=folder.name)  # path() answers imported items
    latest = repository_dir / "td" / "Driver__TD_000000000077_002"
    # path() and @PATH are the same: the executable named like the folder, when there is one.
    assert render('@< path("TD_000000000077") >@', test_item, model) == f"{latest.resolve()}/{latest.name}"
    assert render('@< path("Driver__TD_000000000077_001") >@', test_item, model).endswith("_001")
    text = render("@PATH[TD_000000000077]\n", test_item, model, syntax="2012")
    assert text == f"{latest.resolve()}/{latest.name}\n"


# ---------------------------------------------------------------------------------------------
# Results from the database


def test_get_test_result_reads_the_database_in_the_units_asked(test_item, model):
    upstream = made_test(UPSTREAM, {"runner": "#!/bin/sh\n", "pipeline.stdin.tpl": ""})
    result = stored_result(upstream, model, [lattice_instance(4.05), lattice_instance(0.41, "nm", 2)])
    source = ('@< get_test_result(["TE_000000000011"], [MODELNAME], ["structure-cubic-crystal-npt"],'
              ' ["a"], ["nm"])')
    rendered = render_text(source + " | json >@", test_item, model)
    assert json.loads(rendered.text) == [[pytest.approx(0.405)], [pytest.approx(0.41)]]
    assert rendered.upstream == [result.kim_id]
    # The full tag id works as well, and None keeps the unit as stored.
    text = render(f'@< get_test_result(["{UPSTREAM}"], ["{AL_MODEL}"], ["{STRUCTURE}"], ["a", "species"],'
                  ' ["angstrom", None])[0] >@', test_item, model)
    assert text == "[4.05, ['Al', 'Al', 'Al', 'Al']]"


def test_a_missing_upstream_result_names_the_pair(test_item, model):
    made_test(UPSTREAM, {"runner": "#!/bin/sh\n", "pipeline.stdin.tpl": ""})
    source = '@< get_test_result(["TE_000000000011"], [MODELNAME], ["structure-cubic-crystal-npt"], ["a"], ["nm"]) >@'
    with pytest.raises(PipelineDataMissing) as caught:
        render(source, test_item, model)
    assert UPSTREAM in str(caught.value) and AL_MODEL in str(caught.value)
    with pytest.raises(PipelineDataMissing, match="TE_000000000055"):
        render(source.replace("011", "055"), test_item, model)


def test_a_stale_upstream_result_does_not_count(test_item, model):
    upstream = made_test(UPSTREAM, {"runner": "#!/bin/sh\n", "pipeline.stdin.tpl": ""})
    result = stored_result(upstream, model, [lattice_instance(4.05)])
    result.stale = True
    result.save()
    with pytest.raises(PipelineDataMissing):
        render('@< get_test_result(["TE_000000000011"], [MODELNAME], ["structure-cubic-crystal-npt"], ["a"], ["nm"]) >@',
               test_item, model)


def test_query_answers_a_subset_of_the_kim_query_api(test_item, model):
    upstream = made_test(UPSTREAM, {"runner": "#!/bin/sh\n", "pipeline.stdin.tpl": ""})
    stored_result(upstream, model, [lattice_instance(4.05)])
    # MongoDB semantics: property-id is the full tag, so OpenKIM's templates match it by $regex.
    text = render('@< query({"database": "data", "query": {"property-id": {"$regex": "property/structure-cubic-crystal-npt"},'
                  ' "meta.subject.kimcode": MODELNAME}, "project": ["a.source-value"], "limit": 1}) >@',
                  test_item, model)
    assert text == "[4.05]"
    with pytest.raises(PipelineTemplateError, match=r"unknown top-level operator \$where"):
        render('@< query({"query": {"$where": "1"}}) >@', test_item, model)


# ---------------------------------------------------------------------------------------------
# The 2012 syntax


def test_2012_directives_translate_into_the_same_engine(test_item, model, repository_dir):
    upstream = made_test(UPSTREAM, {"runner": "#!/bin/sh\n", "pipeline.stdin.tpl": ""})
    stored_result(upstream, model, [{"property-id": "PR_000000000301_000", "instance-id": 1,
                                     "lattice_constant": {"source-value": 4.032}}])
    datum = ReferenceDatum.objects.create(kim_id="Al_a__RD_000000000021_000", data=[
        {"property-id": "PR_000000000301_000", "instance-id": 1, "a": {"source-value": 4.05}}])
    source = ("@MODELNAME\n@TESTNAME\n"
              "@DATA[TE_000000000011][@MODELNAME][PR_000000000301_000]\n"
              f"@DATA[{datum.kim_id}]\n"
              "literal @< not jinja >@ and @[ nor this ]@ and an email a@b\n"
              "@FILE[output.dat]\n")
    assert render(source, test_item, model, syntax="2012").splitlines() == [
        AL_MODEL, DOWNSTREAM, "4.032", "4.05",
        "literal @< not jinja >@ and @[ nor this ]@ and an email a@b", "@FILE[output.dat]",
    ]


def test_2012_data_of_a_result_by_its_id(test_item, model):
    upstream = made_test(UPSTREAM, {"runner": "#!/bin/sh\n", "pipeline.stdin.tpl": ""})
    result = stored_result(upstream, model, [{"property-id": "PR_000000000302_000", "instance-id": 1,
                                              "energy": {"source-value": -3.36}}])
    assert render(f"@DATA[{result.kim_id}][PR_000000000302]", test_item, model, syntax="2012") == "-3.36"
    with pytest.raises(PipelineDataMissing, match="no property"):
        render(f"@DATA[{result.kim_id}][PR_000000000999]", test_item, model, syntax="2012")


def test_2012_directives_with_bad_arguments_are_refused_with_their_line(test_item, model):
    for bad in ("@PATH[/etc/passwd]", "@PATH[../../etc]", "@DATA[/etc/passwd]"):
        with pytest.raises(PipelineTemplateError) as caught:
            render(f"@MODELNAME\n{bad}\n", test_item, model, syntax="2012")
        assert caught.value.line == 2


def test_2012_file_directive_in_input_reads_nothing(test_item, model):
    assert translate_2012("@FILE[/etc/passwd]") == "@FILE[/etc/passwd]"
    assert render("@FILE[/etc/passwd]", test_item, model, syntax="2012") == "@FILE[/etc/passwd]"


def test_render_input_reads_the_items_own_template(model, repository_dir):
    item = made_test("Old__TE_000000000013_000", {"pipeline.in": "@MODELNAME\nAl\n",
                                                   "Old__TE_000000000013_000": "#!/bin/sh\n",
                                                   "pipeline.out": "a : PR_000000000301_000\n"},
                     source_format=SourceFormat.KIM2012)
    assert render_input(item, model).text == f"{AL_MODEL}\nAl\n"
    missing = made_test("NoTemplate__TE_000000000014_000", {"runner": "#!/bin/sh\n"})
    with pytest.raises(PipelineTemplateError, match="missing"):
        render_input(missing, model)


# ---------------------------------------------------------------------------------------------
# Dependencies


def test_required_upstream_lists_declared_and_used_pairs(model, repository_dir):
    upstream = made_test(UPSTREAM, {"runner": "#!/bin/sh\n", "pipeline.stdin.tpl": ""})
    other = made_test("Other_fcc_Al__TE_000000000015_000", {"runner": "#!/bin/sh\n", "pipeline.stdin.tpl": ""})
    item = made_test(DOWNSTREAM, {
        "runner": "#!/bin/sh\n",
        "dependencies.edn": '["TE_000000000011"]',
        "pipeline.stdin.tpl": '@< get_test_result(["TE_000000000015_000"], [MODELNAME], ["x"], ["a"], [None]) >@\n',
    })
    assert required_upstream(item, model) == [(upstream, model), (other, model)]
    assert missing_upstream(item, model) == [(upstream, model), (other, model)]
    stored_result(upstream, model, [lattice_instance(4.05)])
    assert missing_upstream(item, model) == [(other, model)]


def test_a_dependency_that_does_not_exist_is_missing_data(model, repository_dir):
    item = made_test(DOWNSTREAM, {"runner": "#!/bin/sh\n", "dependencies.edn": '["TE_000000000404"]',
                                  "pipeline.stdin.tpl": ""})
    with pytest.raises(PipelineDataMissing, match="TE_000000000404"):
        required_upstream(item, model)


def test_a_template_that_loops_for_ever_is_stopped(test_item, model, settings):
    settings.PIPELINE_RENDER_TIMEOUT = 0.5
    source = ("start\n@[ for i in range(100000) ]@@[ for j in range(100000) ]@"
              "@[ endfor ]@@[ endfor ]@\n")
    with pytest.raises(PipelineTemplateError, match="longer than 0.5 s"):
        render(source, test_item, model)


@hypothesis_settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.text(alphabet="@<>[]#{}%-+ abc\n\t", max_size=60))
def test_2012_text_without_directives_comes_out_unchanged(test_item, model, text):
    assert render(text, test_item, model, syntax="2012") == text
