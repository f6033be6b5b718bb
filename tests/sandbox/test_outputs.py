"""What a run leaves is read bounded and never through a link: hostile outputs end as named Errors."""

import pytest

from kimsite import config
from repository.models import Error, SourceFormat
from runner.execute import run_pair
from tests.fixtures.runner.cast import made_test

pytestmark = [pytest.mark.django_db, pytest.mark.kimapi, pytest.mark.dbneutral]


def run_shell(model, name: str, number: int, script: str):
    test = made_test(f"{name}__TE_000000016{number:03d}_000", {
        "pipeline.stdin.tpl": "", "runner": "#!/bin/sh\nmkdir -p output\n" + script})
    return run_pair(test, model)


def run_2012(model, name: str, number: int, script: str):
    kim_id = f"{name}__TE_000000016{number:03d}_000"
    test = made_test(kim_id, {
        "pipeline.in": "", "pipeline.out": "a : PR_000000000001_000\n",
        kim_id: "#!/bin/sh\n" + script}, source_format=SourceFormat.KIM2012)
    return run_pair(test, model)


def category(outcome) -> str:
    assert isinstance(outcome, Error), f"the run ended as {outcome!r}"
    return outcome.category


def kept_text(error) -> str:
    return "".join(p.read_text(errors="replace") for p in error.path.rglob("*") if p.is_file())


def test_a_results_file_linked_to_etc_passwd_is_refused_and_never_copied(model):
    outcome = run_shell(model, "LinkedResults", 1, "ln -s /etc/passwd output/results.edn\n"
                        "ln -s /etc/passwd kim.log\n")
    assert category(outcome) == "invalid-results" and "symbolic link" in outcome.message
    assert "root:" not in kept_text(outcome) and "root:" not in outcome.kimlog_tail


def test_an_output_folder_that_is_a_link_is_refused(model):
    outcome = run_shell(model, "LinkedOutput", 2, "rmdir output\nln -s /etc output\n")
    assert category(outcome) == "invalid-results" and "output/" in outcome.message


def test_a_results_file_above_the_limit_is_a_resource_error(model, settings):
    settings.RUNNER_RESULTS_LIMIT = 1024 ** 2
    outcome = run_shell(model, "HugeResults", 3,
                        "head -c 3000000 /dev/zero | tr '\\0' ' ' > output/results.edn\n")
    assert category(outcome) == "resource" and "RUNNER_RESULTS_LIMIT" in outcome.message


def test_a_kept_file_above_the_limit_is_a_resource_error_and_a_linked_one_is_not_kept(model, settings):
    settings.RUNNER_RESULTS_LIMIT = 1024 ** 2
    outcome = run_shell(model, "HugeKept", 4, """
cat > output/results.edn <<'EDN'
[{"property-id" "tag:staff@noreply.openkim.org,2014-04-15:property/cohesive-potential-energy-cubic-crystal"
  "instance-id" 1 "short-name" {"source-value" ["fcc"]} "species" {"source-value" ["Al"]}
  "a" {"source-value" 4.05 "source-unit" "angstrom"}
  "basis-atom-coordinates" {"source-value" [[0.0 0.0 0.0] [0.0 0.5 0.5] [0.5 0.0 0.5] [0.5 0.5 0.0]]}
  "cohesive-potential-energy" {"source-value" 3.36 "source-unit" "eV"}}]
EDN
head -c 3000000 /dev/zero > output/trajectory.bin
""")
    assert category(outcome) == "resource" and "trajectory.bin" in outcome.message


@pytest.mark.parametrize(("number", "value"), [(5, "1e999"), (6, "-1e999")])
def test_an_infinite_number_in_results_edn_is_invalid_results(model, number, value):
    outcome = run_shell(model, f"Infinite{number}", number, f"""
cat > output/results.edn <<'EDN'
[{{"property-id" "tag:staff@noreply.openkim.org,2014-04-15:property/cohesive-potential-energy-cubic-crystal"
  "instance-id" 1 "a" {{"source-value" {value} "source-unit" "angstrom"}}}}]
EDN
""")
    assert category(outcome) == "invalid-results" and "infinity" in outcome.message


@pytest.mark.parametrize(("number", "value"), [(7, "NaN"), (8, "Infinity"), (9, "-Infinity"),
                                               (10, "1e999")])
def test_a_non_finite_number_in_2012_stdout_json_is_invalid_results(model, number, value):
    outcome = run_2012(model, f"NonFinite{number}", number, f"echo '{{\"a\": {value}}}'\n")
    assert category(outcome) == "invalid-results", outcome.message
    assert "NaN" in outcome.message or "Infinity" in outcome.message or "infinity" in outcome.message


def test_results_edn_nested_100000_deep_is_invalid_results(model):
    outcome = run_shell(model, "DeepEDN", 11, "python3 -c \"print('['*100000 + ']'*100000)\" "
                        "> output/results.edn\n")
    assert category(outcome) == "invalid-results" and "nested too deeply" in outcome.message


def test_2012_stdout_json_nested_100000_deep_is_invalid_results(model):
    outcome = run_2012(model, "DeepJSON", 12, "python3 -c \"print('['*100000 + ']'*100000)\"\n")
    assert category(outcome) == "invalid-results" and "nested too deeply" in outcome.message


def test_a_linked_extra_output_file_is_not_kept(model, tmp_path):
    outcome = run_shell(model, "LinkedExtra", 13, f"""
ln -s /etc/passwd output/passwd
ln -s {config.KIM_DIR} output/kimdir
cat > output/results.edn <<'EDN'
[{{"property-id" "tag:staff@noreply.openkim.org,2014-04-15:property/cohesive-potential-energy-cubic-crystal"
  "instance-id" 1 "short-name" {{"source-value" ["fcc"]}} "species" {{"source-value" ["Al"]}}
  "a" {{"source-value" 4.05 "source-unit" "angstrom"}}
  "basis-atom-coordinates" {{"source-value" [[0.0 0.0 0.0] [0.0 0.5 0.5] [0.5 0.0 0.5] [0.5 0.5 0.0]]}}
  "cohesive-potential-energy" {{"source-value" 3.36 "source-unit" "eV"}}}}]
EDN
""")
    assert not isinstance(outcome, Error), outcome.message
    kept = {p.name for p in outcome.path.rglob("*")}
    assert "passwd" not in kept and "kimdir" not in kept and "results.edn" in kept
