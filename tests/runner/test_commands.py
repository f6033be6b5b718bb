"""runpair and showresult: thin commands over run_pair and the kept outcome."""

import json
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from repository.models import Error, TestResult
from tests.fixtures.runner.cast import (
    CHECK_2020,
    LATTICE_2020,
    LJ_MODEL,
    import_fixture,
    installed_model,
    made_test,
)

pytestmark = [pytest.mark.django_db, pytest.mark.kimapi]


@pytest.fixture
def al_model(repository_dir):
    return installed_model()


def command(*args) -> str:
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def test_runpair_with_partial_ids_prints_values_with_units(al_model):
    import_fixture("te", LATTICE_2020)
    text = command("runpair", "TE_000000000101", "MO_123629422045")
    result = TestResult.objects.get()
    assert text.startswith(f"{result.kim_id}: {LATTICE_2020} × {al_model.kim_id}: ok in ")
    assert "structure-cubic-crystal-npt.a[1] = 4.03" in text and " angstrom" in text
    assert "cohesive-potential-energy-cubic-crystal.cohesive-potential-energy[2] = 3.3" in text
    assert f"kept in {result.path}" in text

    shown = command("showresult", result.kim_id)
    assert result.kim_id in shown and "computed on: host" in shown and "kim_api 2." in shown
    assert "files: " in shown and "results.edn" in shown and "pipelinespec.edn" in shown
    data = json.loads(command("showresult", result.kim_id[:15], "--json"))
    assert data["kind"] == "test result" and data["runner"] == LATTICE_2020


def test_runpair_json(al_model):
    import_fixture("te", LATTICE_2020)
    data = json.loads(command("runpair", LATTICE_2020, al_model.kim_id, "--json"))
    assert data["status"] == "ok" and data["usertime"] > 0
    assert {v["key"] for v in data["values"]} >= {"a", "cohesive-potential-energy"}


def test_runpair_with_a_check_gives_a_verification_result(repository_dir):
    installed_model(LJ_MODEL, species=("Ar", "Al"))
    import_fixture("vc", CHECK_2020)
    text = command("runpair", "VC_000000000601", "MO_959249795837")
    assert text.startswith("VR_") and "grade P" in text


def test_runpair_exits_non_zero_for_an_error(al_model):
    made_test("Fails__TE_000000000931_000", {"pipeline.stdin.tpl": "",
                                             "runner": "#!/bin/sh\necho 'bad things' >&2\nexit 2\n"})
    out = StringIO()
    with pytest.raises(CommandError) as caught:
        call_command("runpair", "TE_000000000931", al_model.kim_id, stdout=out)
    assert caught.value.returncode == 1
    error = Error.objects.get()
    assert f"{error.kim_id}: nonzero-exit" in str(caught.value)
    assert "error: nonzero-exit" in out.getvalue() and "bad things" in out.getvalue()
    shown = command("showresult", error.kim_id)
    assert "nonzero-exit" in shown and "pipeline.exception" in shown


def test_commands_refuse_what_they_cannot_resolve(al_model):
    with pytest.raises(CommandError, match="TE_000000000404"):
        command("runpair", "TE_000000000404", al_model.kim_id)
    with pytest.raises(CommandError, match="not a test or verification check"):
        command("runpair", al_model.kim_id, al_model.kim_id)
    with pytest.raises(CommandError, match="malformed"):
        command("runpair", "../etc/passwd", al_model.kim_id)
    with pytest.raises(CommandError, match="not the KIM ID of a result"):
        command("showresult", "TE_000000000101")
    with pytest.raises(CommandError, match="TR_000000000001"):
        command("showresult", "TR_000000000001_000")


def test_django_templates_show_a_callable_test_instead_of_calling_it(al_model):
    from django.template import Context, Template

    test = made_test("Shown__TE_000000000941_000", {"pipeline.stdin.tpl": "", "runner": "#!/bin/sh\n"})
    assert Template("{{ test }}").render(Context({"test": test})) == test.kim_id
    assert not Error.objects.exists() and not TestResult.objects.exists()


def test_installitems_builds_a_named_test_shipped_as_source(al_model):
    from runner.models import Build

    test = made_test("Named__TE_000000000791_000", {
        "Makefile": "runner:\n\tprintf '#!/bin/sh\\nexit 0\\n' > runner; chmod +x runner\n",
        "pipeline.stdin.tpl": ""})
    assert run_pair_category(test, al_model) == "build"  # never built: the run says so
    assert f"installed {test.kim_id}" in command("installitems", test.kim_id)
    assert Build.objects.get(kim_id=test.kim_id).status == Build.Status.SUCCEEDED
    assert run_pair_category(test, al_model) == "no-results"  # it ran: it writes no results


def run_pair_category(test, model) -> str:
    from runner.execute import run_pair

    return run_pair(test, model).category
