"""Fuzzing with hypothesis: every input is accepted or refused with a named error, never a crash.

A few hundred inputs per family in the test command; ``FUZZ_LONG=1`` runs thousands each.
"""

import json
import os
from pathlib import Path

import kim_edn
import pytest
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from repository import kimcodes
from repository.errors import PipelineError
from repository.importer import import_repository
from repository.models import Test
from runner import reading
from runner.template.render import render_text
from tests.fixtures.runner.cast import installed_model, made_test
from tests.repository import builders as b

LONG = os.environ.get("FUZZ_LONG") == "1"
FUZZ = settings(max_examples=3000 if LONG else 200, deadline=None, derandomize=not LONG,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                       HealthCheck.data_too_large])
FUZZ_IMPORT = settings(FUZZ, max_examples=1000 if LONG else 60)

pytestmark = pytest.mark.django_db

scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=30))
values = st.recursive(scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=12), inner, max_size=4)),
    max_leaves=20)
KIM_ID_PARTS = st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ_abc0123456789", max_size=40)
KIM_IDS = st.one_of(
    st.text(max_size=60),
    st.builds(lambda name, leader, number, version: f"{name}__{leader}_{number}_{version}",
              KIM_ID_PARTS, st.sampled_from(["TE", "MO", "TD", "XX", "te", ""]),
              st.text(alphabet="0123456789x", max_size=14), st.text(alphabet="0123456789", max_size=4)))
EDN_KEYS = ["extended-id", "title", "species", "kim-api-version", "timeout", "test-driver",
            "matching-models", "description", "status", "simulator-name"]


def mutated(text: str, data) -> str:
    """``text`` with a few characters changed, cut or doubled."""
    for _ in range(data.draw(st.integers(0, 3))):
        if not text:
            break
        where = data.draw(st.integers(0, len(text) - 1))
        action = data.draw(st.sampled_from(["cut", "insert", "double"]))
        if action == "cut":
            text = text[:where]
        elif action == "insert":
            text = text[:where] + data.draw(st.text(max_size=5)) + text[where:]
        else:
            text = text[:where] + text[where:] * 2
    return text


@FUZZ
@given(KIM_IDS)
def test_kim_ids_parse_or_are_refused_by_name(text):
    try:
        code = kimcodes.parse_kim_code(text)
    except PipelineError:
        return
    assert code.leader and code.number


def import_reports_the_folder(source: Path, folder: Path, kim_id: str, repository: Path):
    report = import_repository(source)
    kept = set(report.created) | set(report.updated) | set(report.unchanged)
    rejected = {f for f, _ in report.rejected}
    assert (folder in rejected) != (kim_id in kept), report
    # Never half-imported: the row exists exactly when its folder does.
    has_row = Test.objects.filter(kim_id=kim_id).exists()
    assert has_row == (repository / "te" / kim_id).is_dir()
    assert not list(repository.glob("*/.*.partial"))


@pytest.fixture
def source(tmp_path):
    return b.build_source_repository(tmp_path / "source")


KIM_ID = "Fuzzed_Ar__TE_000000020001_000"
KIM_ID_2012 = "Fuzzed2012_Ar__TE_000000020002_000"


@FUZZ_IMPORT
@given(data=st.data())
def test_a_fuzzed_kimspec_or_dependencies_edn_is_imported_or_rejected(source, repository_dir, data):
    folder = b.folder_of(source, KIM_ID)
    if not folder.exists():
        b.item_2020(source, KIM_ID, runner=True, template=True, species=["Ar"])
    spec = {"extended-id": KIM_ID, "title": "fuzz", "species": ["Ar"], "kim-api-version": "2.3"}
    for key in data.draw(st.lists(st.sampled_from(EDN_KEYS), max_size=3)):
        spec[key] = data.draw(values)
    try:
        text = kim_edn.dumps(spec)
    except Exception:  # values kim_edn cannot write (NaN keys…): write them raw
        text = str(spec)
    (folder / "kimspec.edn").write_text(mutated(text, data), errors="surrogatepass")
    dependencies = data.draw(st.one_of(st.none(), st.lists(KIM_IDS, max_size=3).map(json.dumps),
                                       st.text(max_size=40)))
    if dependencies is None:
        (folder / "dependencies.edn").unlink(missing_ok=True)
    else:
        (folder / "dependencies.edn").write_text(dependencies, errors="surrogatepass")
    import_reports_the_folder(source, folder, KIM_ID, repository_dir)


@FUZZ_IMPORT
@given(data=st.data())
def test_a_fuzzed_metadata_json_is_imported_or_rejected(source, repository_dir, data):
    folder = b.folder_of(source, KIM_ID_2012)
    if not folder.exists():
        b.item_2012(source, KIM_ID_2012, pipeline_in="@MODELNAME\n", pipeline_out="")
    metadata = {"kim_code": KIM_ID_2012, "species": ["Ar"]}
    for key in data.draw(st.lists(st.sampled_from(["title", "species", "timeout", "kim_api_version",
                                                   "test_drivers", "status", "description"]),
                                  max_size=3)):
        metadata[key] = data.draw(values)
    (folder / "metadata.json").write_text(mutated(json.dumps(metadata), data),
                                          errors="surrogatepass")
    import_reports_the_folder(source, folder, KIM_ID_2012, repository_dir)


TEMPLATE_PIECES = st.sampled_from([
    "@<", ">@", "@[", "]@", "@#", "#@", " MODELNAME ", " TESTNAME ", "@MODELNAME", "@TESTNAME",
    "@PATH[", "@DATA[", "]", "[", "if", "for x in range(3)", "endfor", "endif", " ", "\n",
    "'x'*9", "|center(5)", "|join(',')", "'%05d' % 3", "(", ")", "path('TE_000000000001')",
    "query({})", "{{", "}}", "{%", "%}", "raw", "endraw", "__class__", ".mro()", "\x00", "\udcff"])


@FUZZ
@given(pieces=st.lists(st.one_of(TEMPLATE_PIECES, st.text(max_size=6)), max_size=25),
       syntax=st.sampled_from(["2020", "2012"]))
def test_a_fuzzed_template_renders_or_is_a_template_error(repository_dir, pieces, syntax):
    model = installed_model()
    runner_item = Test.objects.filter(kim_id="Fuzz__TE_000000020003_000").first() or made_test(
        "Fuzz__TE_000000020003_000", {"pipeline.stdin.tpl": ""})
    try:
        rendered = render_text("".join(pieces), runner_item, model, syntax=syntax)
    except PipelineError:
        return
    assert isinstance(rendered.text, str)


def fake_run(scratch: Path) -> reading.Run:
    runner_item = Test.objects.filter(kim_id="Fuzz__TE_000000020004_000").first() or made_test(
        "Fuzz__TE_000000020004_000", {"pipeline.stdin.tpl": ""})
    return reading.Run(runner_item=runner_item, model=installed_model(), created_at=timezone.now(),
                       scratch=scratch)


RESULT_PIECES = st.sampled_from(['{', '}', '[', ']', '"property-id"', '"instance-id"', ' 1 ',
                                 '"source-value"', '"source-unit"', '"eV"', ' 1e999 ', ' ##NaN ',
                                 ' NaN ', '"a"', ' nil ', ' true ', ':kw ', '#{', '\\', '"',
                                 '"tag:staff@noreply.openkim.org,2014-04-15:property/'
                                 'cohesive-potential-energy-cubic-crystal"'])


@FUZZ
@given(pieces=st.lists(st.one_of(RESULT_PIECES, st.text(max_size=5)), max_size=30))
def test_a_fuzzed_results_edn_is_read_or_refused_by_name(tmp_path_factory, repository_dir, pieces):
    scratch = tmp_path_factory.mktemp("run")
    (scratch / "output").mkdir()
    (scratch / "output" / "results.edn").write_text("".join(pieces), errors="surrogatepass")
    try:
        found = reading.read_2020(fake_run(scratch))
    except PipelineError:
        return
    assert found.instances


@FUZZ
@given(value=values, raw=st.text(max_size=40), use_raw=st.booleans())
def test_a_fuzzed_2012_stdout_line_is_read_or_refused_by_name(tmp_path_factory, repository_dir,
                                                               value, raw, use_raw):
    scratch = tmp_path_factory.mktemp("run")
    line = raw if use_raw else json.dumps({"a": value})
    (scratch / "pipeline.stdout").write_text(f"noise\n{line}\n", errors="surrogatepass")
    try:
        reading._last_json_line((scratch / "pipeline.stdout").read_text(errors="replace"))
    except PipelineError:
        return
