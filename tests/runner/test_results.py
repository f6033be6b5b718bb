"""runner.results: reading and validating what a run left, and keeping it atomically."""

import pytest
from django.db import DatabaseError
from django.utils import timezone

from kimsite import config
from repository import storage
from repository.models import Error, Property, PropertyValue, TestResult
from runner import formats, reading, results
from runner.execute import run_pair
from tests.fixtures.runner.cast import installed_model, made_test

pytestmark = pytest.mark.django_db

STRUCTURE = "tag:staff@noreply.openkim.org,2014-04-15:property/structure-cubic-crystal-npt"
VALID = f"""[{{"property-id" "{STRUCTURE}" "instance-id" 1
  "species" {{"source-value" ["Al" "Al" "Al" "Al"]}}
  "a" {{"source-value" 4.05 "source-unit" "angstrom"}}
  "basis-atom-coordinates" {{"source-value" [[0 0 0] [0 0.5 0.5] [0.5 0 0.5] [0.5 0.5 0]]}}
  "temperature" {{"source-value" 0 "source-unit" "K"}}
  "cauchy-stress" {{"source-value" [0 0 0 0 0 0] "source-unit" "GPa"}}}}]
"""


@pytest.fixture
def model(repository_dir):
    return installed_model()


@pytest.fixture
def test_item(repository_dir):
    return made_test("Reader__TE_000000000901_000", {"pipeline.stdin.tpl": "", "runner": "#!/bin/sh\n"})


def scratch_run(test_item, model, tmp_path, results_text=None) -> reading.Run:
    scratch = tmp_path / "scratch"
    (scratch / "output").mkdir(parents=True)
    for name in (config.STDOUT_FILE, config.STDERR_FILE, config.KIM_LOG_FILE):
        (scratch / name).write_text(f"{name} text\n")
    if results_text is not None:
        (scratch / "output" / config.RESULTS_FILE).write_text(results_text)
    return reading.Run(runner_item=test_item, model=model, created_at=timezone.now(), scratch=scratch,
                       stdin_text="input\n", exit_code=0, runtime=0.5, usertime=0.25, memmax=20000)


def read(run: reading.Run) -> reading.Reading:
    return formats.of(run.runner_item).read_results(run)


def result_folders(kind: str) -> list:
    folder = config.KIM_REPOSITORY_DIR / kind
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def test_a_valid_reading_becomes_a_result_with_property_values(test_item, model, tmp_path):
    run = scratch_run(test_item, model, tmp_path, VALID)
    (run.scratch / "output" / "extra.dat").write_text("1 2 3\n")
    result = results.record_result(run, read(run))
    assert result.values.get(key="a").quantity == (4.05, "angstrom")
    assert result["a"] == (4.05, "angstrom")
    assert (result.path / "output" / "extra.dat").read_text() == "1 2 3\n"
    assert (result.path / "results.edn").read_text() == VALID
    assert result_folders("tr") == [result.kim_id]


def test_property_definitions_of_the_database_validate_results(test_item, model, tmp_path):
    tag = "tag:someone@example.org,2026-01-01:property/dimer-energy"
    text = f'[{{"property-id" "{tag}" "instance-id" 1 "energy" {{"source-value" -1.5 "source-unit" "eV"}}}}]'
    with pytest.raises(reading.InvalidResults, match="fail validation"):
        read(scratch_run(test_item, model, tmp_path, text))
    Property.objects.create(kim_id="DimerEnergy__PR_000000000911_000", property_id=tag,
                            short_name="dimer-energy", definition={
                                "property-id": tag, "property-title": "Dimer energy",
                                "property-description": "Energy of a dimer.",
                                "energy": {"type": "float", "has-unit": True, "extent": [],
                                           "required": True, "description": "The energy."}})
    found = read(scratch_run(test_item, model, tmp_path / "again", text))
    assert found.instances[0]["energy"]["source-value"] == -1.5


def test_a_failed_database_write_leaves_no_folder(test_item, model, tmp_path, monkeypatch):
    run = scratch_run(test_item, model, tmp_path, VALID)
    found = read(run)

    def broken(*args, **kwargs):
        raise DatabaseError("disk full (forced by the test)")

    monkeypatch.setattr(PropertyValue.objects, "bulk_create", broken)
    with pytest.raises(DatabaseError):
        results.record_result(run, found)
    assert not TestResult.objects.exists()
    assert result_folders("tr") == []  # neither the result nor a staging folder


def test_a_failed_publish_leaves_no_row(test_item, model, tmp_path, monkeypatch):
    run = scratch_run(test_item, model, tmp_path, VALID)
    found = read(run)

    def broken(staging, final):
        raise OSError("rename refused (forced by the test)")

    monkeypatch.setattr(storage, "publish_folder", broken)
    with pytest.raises(OSError):
        results.record_result(run, found)
    assert not TestResult.objects.exists() and not PropertyValue.objects.exists()
    assert result_folders("tr") == []


def test_run_pair_records_an_internal_error_when_keeping_the_result_fails(test_item, model, monkeypatch):
    (test_item.path / "runner").write_text(f"#!/bin/sh\ncat > output/results.edn <<'EOF'\n{VALID}EOF\n")

    def broken(*args, **kwargs):
        raise DatabaseError("forced by the test")

    monkeypatch.setattr(PropertyValue.objects, "bulk_create", broken)
    outcome = run_pair(test_item, model)
    assert isinstance(outcome, Error) and outcome.category == "internal"
    assert "forced by the test" in outcome.message
    assert not TestResult.objects.exists() and result_folders("tr") == []
    assert result_folders("er") == [outcome.kim_id]


def test_an_error_folder_keeps_the_exception_and_the_tails(test_item, model, tmp_path):
    run = scratch_run(test_item, model, tmp_path, "{{{")
    (run.scratch / config.STDOUT_FILE).write_text("".join(f"line {i}\n" for i in range(1000)))
    error = results.record_error(run, Error.Category.INVALID_RESULTS, "does not parse")
    assert error.stdout_tail.splitlines()[-1] == "line 999"
    assert len(error.stdout_tail.splitlines()) == results.TAIL_LINES
    assert error.kimlog_tail == "kim.log text"
    assert (error.path / "pipeline.exception").read_text() == "invalid-results: does not parse\n"
    assert (error.path / "results.edn").read_text() == "{{{"
    assert {"kimspec.edn", "pipelinespec.edn", "pipeline.stdin", "pipeline.stdout",
            "pipeline.stderr", "kim.log"} <= {p.name for p in error.path.iterdir()}


def test_pipeline_out_is_read_and_checked(tmp_path):
    path = tmp_path / "pipeline.out"
    path.write_text("lattice_constant : PR_000000000301_000\n\n# comment\nenergy:PR_000000000302\n")
    assert reading.read_pipeline_out(path) == {"lattice_constant": "PR_000000000301_000",
                                               "energy": "PR_000000000302"}
    path.write_text("lattice_constant = PR_000000000301_000\n")
    with pytest.raises(reading.InvalidResults) as caught:
        reading.read_pipeline_out(path)
    assert caught.value.line == 1


def test_tail_reads_the_end_of_a_large_file(tmp_path):
    path = tmp_path / "big"
    path.write_bytes(b"x" * 5_000_000 + b"\nlast line\n")
    assert results.tail(path, 1) == "last line"
    assert results.tail(tmp_path / "absent") == ""


def test_a_new_result_id_is_checked_with_exact_lookups(test_item, model, tmp_path):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    run = scratch_run(test_item, model, tmp_path, VALID)
    found = read(run)
    with CaptureQueriesContext(connection) as queries:
        result = results.record_result(run, found)
    lookups = [q["sql"] for q in queries.captured_queries if result.kim_id[:2] in q["sql"]
               or "kim_id" in q["sql"]]
    assert lookups, "the new ID was looked up"
    # Result IDs carry no name: a LIKE '%…%' would scan a million-row table for each new ID.
    assert not [sql for sql in queries.captured_queries if " LIKE " in sql["sql"].upper()]
