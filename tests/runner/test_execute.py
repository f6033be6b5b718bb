"""runner.execute.run_pair: real pairs through the real KIM API, and every bad run as a categorised Error."""

import time

import pytest

from kimsite import config
from repository import edn
from repository.models import (
    Error,
    PropertyValue,
    SourceFormat,
    TestResult,
    VerificationResult,
    WorkerEnvironment,
)
from runner import execute, owners
from runner.execute import run_pair
from tests.fixtures.runner.cast import (
    BULK_2020,
    CHECK_2020,
    COHESIVE_2012,
    LATTICE_2020,
    LJ_MODEL,
    import_fixture,
    import_lattice_2012,
    installed_model,
    made_test,
    process_alive,
)

pytestmark = [pytest.mark.django_db, pytest.mark.kimapi]

RESULT_FILES = {"results.edn", "kimspec.edn", "pipelinespec.edn", "pipeline.stdin", "pipeline.stdout",
                "pipeline.stderr", "kim.log"}


@pytest.fixture
def al_model(repository_dir):
    return installed_model()


def error_of(outcome, category: str) -> Error:
    assert isinstance(outcome, Error), f"expected an Error, got {outcome!r}"
    assert outcome.category == category, f"{outcome.category}: {outcome.message}"
    assert outcome.path.is_dir() and (outcome.path / "pipeline.exception").is_file()
    assert not TestResult.objects.exists()
    return outcome


# ---------------------------------------------------------------------------------------------
# Real pairs


def test_lattice_constant_of_fcc_al_with_an_eam_model(al_model):
    test = import_fixture("te", LATTICE_2020)
    result = test(al_model)  # Test.__call__ is run_pair
    assert isinstance(result, TestResult), getattr(result, "message", result)
    a = PropertyValue.objects.get(result=result, property_name="structure-cubic-crystal-npt", key="a")
    assert a.value == pytest.approx(4.032, abs=0.01) and a.unit == "angstrom"
    energy = result["cohesive-potential-energy"]
    assert energy == (pytest.approx(3.36, abs=0.01), "eV")
    assert RESULT_FILES <= {p.name for p in result.path.iterdir()}
    assert result.path.parent == config.KIM_REPOSITORY_DIR / "tr"
    spec = edn.load(result.path / "pipelinespec.edn")
    assert spec["profiling"]["usertime"] > 0 and spec["profiling"]["memmax"] > 10_000
    assert spec["exit-code"] == 0 and spec["upstream-results"] == []
    assert result.runtime > 0 and result.usertime > 0 and result.memmax > 10_000
    assert result.environment == WorkerEnvironment.objects.get()
    assert result.environment.kim_api_version.startswith("2.")
    assert edn.load(result.path / "kimspec.edn")["test"] == LATTICE_2020
    assert (result.path / "pipeline.stdin").read_text().split()[:3] == [al_model.kim_id, "Al", "fcc"]
    # The KIM API wrote its log in the scratch folder, and the run's scratch folder is gone.
    assert (result.path / "kim.log").stat().st_size > 0
    assert list(owners.owner_scratch().glob(f"{result.test.kim_id}__*")) == []


def test_bulk_modulus_waits_for_lattice_constant(al_model):
    lattice = import_fixture("te", LATTICE_2020)
    bulk = import_fixture("te", BULK_2020)
    assert list(bulk.depends_on.all()) == [lattice]
    early = error_of(run_pair(bulk, al_model), "dependency")
    assert LATTICE_2020 in early.message and al_model.kim_id in early.message
    upstream = run_pair(lattice, al_model)
    assert isinstance(upstream, TestResult)
    result = run_pair(bulk, al_model)
    assert isinstance(result, TestResult), getattr(result, "message", result)
    assert result.provenance["upstream-results"] == [upstream.kim_id]
    modulus, unit = result["isothermal-bulk-modulus"]
    assert 50 < modulus < 120 and unit == "GPa"
    # The template read the lattice constant from the database.
    assert float((result.path / "pipeline.stdin").read_text().split()[2]) == pytest.approx(
        upstream["structure-cubic-crystal-npt"]["structure-cubic-crystal-npt/a#1"][0])


def test_2012_pair_and_its_dependent_with_a_kept_file(al_model):
    lattice = import_lattice_2012()
    result = run_pair(lattice, al_model)
    assert isinstance(result, TestResult), getattr(result, "message", result)
    assert result["PR_000000000301_000"][0] == pytest.approx(4.032, abs=0.01)
    assert result["lattice_constant"] == result["PR_000000000301_000"]
    renamed = (result.path / "results.json").read_text()
    assert '"PR_000000000302_000"' in renamed and '"func_calls"' in renamed  # unmapped kept
    # The 2012 input went in as pipeline.in.tmp with @PATH giving the driver's executable.
    first_line = (result.path / "pipeline.stdin").read_text().splitlines()[0]
    assert first_line.endswith("td/LatticeConstantCubicEnergy__TD_000000000401_000/"
                               "LatticeConstantCubicEnergy__TD_000000000401_000")

    dependent = import_fixture("te", COHESIVE_2012)
    assert list(dependent.depends_on.all()) == [lattice]
    energy = run_pair(dependent, al_model)
    assert isinstance(energy, TestResult), getattr(energy, "message", energy)
    assert energy.provenance["upstream-results"] == [result.kim_id]
    assert energy["cohesive_energy"][0] == pytest.approx(3.36, abs=0.01)
    curve = (energy.path / "files" / "energy_curve.dat").read_text().splitlines()
    assert len(curve) == 11


def test_a_verification_check_gives_a_graded_verification_result(repository_dir):
    lj = installed_model(LJ_MODEL, species=("Ar", "Al", "Cu"))
    check = import_fixture("vc", CHECK_2020)
    result = check(lj)
    assert isinstance(result, VerificationResult), getattr(result, "message", result)
    assert result.grade == "P"
    assert result.path.parent.name == "vr"
    assert edn.load(result.path / "kimspec.edn")["verification-check"] == CHECK_2020


def test_partial_model_id_through_call(al_model):
    test = import_fixture("te", LATTICE_2020)
    assert isinstance(test("MO_123629422045"), TestResult)


# ---------------------------------------------------------------------------------------------
# Bad runs: each an Error with a category, never a crash nor a TestResult


def test_a_model_that_does_not_match_is_a_mismatch(al_model):
    test = made_test("Ar__TE_000000000701_000", {"runner": "#!/bin/sh\n", "pipeline.stdin.tpl": ""},
                     species=("Ar",))
    error = error_of(run_pair(test, al_model), "mismatch")
    assert "species" in error.message and "Ar" in error.message


def test_a_missing_executable(al_model):
    test = made_test("NoRunner__TE_000000000702_000", {"pipeline.stdin.tpl": "@< MODELNAME >@\n"})
    error = error_of(run_pair(test, al_model), "nonzero-exit")
    assert "missing" in error.message and error.provenance["exit-code"] == 127


def test_an_executable_that_is_not_executable(al_model):
    test = made_test("NotExecutable__TE_000000000703_000", {"pipeline.stdin.tpl": ""})
    (test.path / "runner").write_text("#!/bin/sh\necho hi\n")
    error = error_of(run_pair(test, al_model), "nonzero-exit")
    assert "not executable" in error.message


def test_an_executable_with_a_bad_interpreter(al_model):
    test = made_test("BadInterpreter__TE_000000000704_000", {
        "pipeline.stdin.tpl": "", "runner": "#!/no/such/interpreter\n"})
    error = error_of(run_pair(test, al_model), "nonzero-exit")
    assert "cannot start" in error.message


def test_a_non_zero_exit_keeps_the_tails(al_model):
    test = made_test("Fails__TE_000000000705_000", {"pipeline.stdin.tpl": "@< MODELNAME >@\n", "runner": """
        #!/bin/sh
        read model
        echo "computing with $model"
        echo "Traceback: something broke" >&2
        exit 3
        """})
    error = error_of(run_pair(test, al_model), "nonzero-exit")
    assert "status 3" in error.message
    assert "computing with " + al_model.kim_id in error.stdout_tail
    assert "something broke" in error.stderr_tail
    assert error.test == test and error.model == al_model
    assert (error.path / "pipeline.stderr").read_text().strip() == "Traceback: something broke"


@pytest.mark.parametrize(("number", "script", "category", "words"), [
    ("711", "exit 0", "no-results", "no output/results.edn"),
    ("712", ": > output/results.edn", "no-results", "empty"),
    ("713", "echo '{{{ not edn' > output/results.edn", "invalid-results", "does not parse"),
    ("714", "echo '[]' > output/results.edn", "no-results", "no property instances"),
    ("715", "echo '[1 2 3]' > output/results.edn", "invalid-results", "not a list of property instances"),
    ("716", """echo '[{"property-id" "tag:staff@noreply.openkim.org,2014-04-15:property/structure-cubic-crystal-npt" "instance-id" 1 "a" {"source-value" 4.05 "source-unit" "angstrom"}}]' > output/results.edn""",
     "invalid-results", "fail validation"),
    ("717", """echo '[{"property-id" "tag:nobody@example.org,2020-01-01:property/no-such-thing" "instance-id" 1}]' > output/results.edn""",
     "invalid-results", "fail validation"),
])
def test_bad_2020_results_are_categorised(al_model, number, script, category, words):
    test = made_test(f"Bad__TE_000000000{number}_000", {"pipeline.stdin.tpl": "",
                                                        "runner": f"#!/bin/sh\n{script}\n"})
    error = error_of(run_pair(test, al_model), category)
    assert words in error.message


@pytest.mark.parametrize(("number", "stdout", "category", "words"), [
    ("721", "", "no-results", "printed nothing"),
    ("722", "this is not json", "invalid-results", "not JSON"),
    ("723", "[1, 2]", "invalid-results", "not an object"),
    ("724", '{"unmapped": 1}', "invalid-results", "none of the keys"),
    ("725", '{"a": "@FILE[/etc/passwd]"}', "invalid-results", "outside the run's folder"),
    ("726", '{"a": "@FILE[../../../../etc/passwd]"}', "invalid-results", "outside the run's folder"),
    ("727", '{"a": "@FILE[never_written.dat]"}', "invalid-results", "names no file"),
])
def test_bad_2012_output_is_categorised(al_model, number, stdout, category, words):
    kim_id = f"Bad2012__TE_000000000{number}_000"
    test = made_test(kim_id, {"pipeline.in": "@MODELNAME\n", "pipeline.out": "a : PR_000000000301_000\n",
                              kim_id: f"#!/bin/sh\nprintf '%s\\n' '{stdout}'\n"},
                     source_format=SourceFormat.KIM2012)
    error = error_of(run_pair(test, al_model), category)
    assert words in error.message


def test_a_hanging_test_is_killed_at_the_limit_with_its_children(al_model, tmp_path):
    pids = tmp_path / "pids"
    test = made_test("Hangs__TE_000000000731_000", {"pipeline.stdin.tpl": "", "runner": f"""
        #!/bin/sh
        sleep 1000 &
        echo $! >> {pids}
        # A grandchild that leaves the process group must die as well.
        setsid sleep 1000 &
        echo $! >> {pids}
        echo started
        sleep 1000
        """}, timeout=2)
    started = time.monotonic()
    error = error_of(run_pair(test, al_model), "timeout")
    assert time.monotonic() - started < 15
    assert "2 s" in error.message and error.runtime == pytest.approx(2, abs=1.5)
    assert "started" in error.stdout_tail
    children = [int(p) for p in pids.read_text().split()]
    assert len(children) == 2
    deadline = time.monotonic() + 5
    while any(process_alive(p) for p in children) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not any(process_alive(p) for p in children)


def test_a_test_that_prints_without_end_is_capped(al_model, settings):
    settings.RUNNER_OUTPUT_LIMIT = 1 << 20
    # 200 MB through the pipe; 1 MiB of it on disk.
    test = made_test("Chatty__TE_000000000732_000", {"pipeline.stdin.tpl": "", "runner": """
        #!/bin/sh
        head -c 200000000 /dev/zero | tr '\\0' 'x'
        head -c 50000000 /dev/zero >&2
        exit 0
        """})
    error = error_of(run_pair(test, al_model), "no-results")
    assert (error.path / "pipeline.stdout").stat().st_size == 1 << 20
    assert (error.path / "pipeline.stderr").stat().st_size == 1 << 20
    output = error.provenance["output"]
    assert output["stdout"] == {"bytes": 200_000_000, "kept": 1 << 20, "truncated": True}
    assert output["stderr"]["truncated"] is True
    assert len(error.stdout_tail) <= 8000


def test_sandbox_escapes_in_a_real_run_are_template_errors(al_model):
    test = made_test("Escape__TE_000000000741_000", {
        "runner": "#!/bin/sh\ncat > output/stolen\n",
        "pipeline.stdin.tpl": "@< MODELNAME >@\n@< ().__class__.__mro__[1].__subclasses__() >@\n"})
    error = error_of(run_pair(test, al_model), "template")
    assert "line 2" in error.message and "pipeline.stdin.tpl" in error.message
    test = made_test("Escape__TE_000000000742_000", {
        "runner": "#!/bin/sh\ncat > output/stolen\n", "pipeline.stdin.tpl": '@< path("../../etc/passwd") >@\n'})
    error_of(run_pair(test, al_model), "template")


def test_a_dependency_that_does_not_exist(al_model):
    test = made_test("Orphan__TE_000000000751_000", {
        "runner": "#!/bin/sh\n", "dependencies.edn": '["TE_000000000999"]', "pipeline.stdin.tpl": ""})
    error = error_of(run_pair(test, al_model), "dependency")
    assert "TE_000000000999" in error.message


def test_the_scratch_folder_is_outside_the_kim_api_area(al_model, monkeypatch):
    seen = []
    original = execute._make_scratch

    def spy(runner_item, model):
        seen.append(original(runner_item, model))
        return seen[-1]

    monkeypatch.setattr(execute, "_make_scratch", spy)
    test = made_test("Cwd__TE_000000000752_000", {"pipeline.stdin.tpl": "", "runner": """
        #!/bin/sh
        pwd
        ls
        exit 1
        """})
    error = error_of(run_pair(test, al_model), "nonzero-exit")
    scratch = seen[0]
    assert str(scratch) in error.stdout_tail and "output" in error.stdout_tail
    assert not scratch.is_relative_to(config.KIM_API_DIR)
    assert not scratch.exists()


# ---------------------------------------------------------------------------------------------
# The example repository's real pairs (imported with the importer)

EXAMPLE_LATTICE = "LatticeConstantCubicEnergy_fcc_Al__TE_514507648222_000"
EXAMPLE_BULK = "BulkModulusCubic_fcc_Al__TE_490118396372_000"
EXAMPLE_2012 = "LatticeConstantCubicJSON_fcc_Al__TE_856798071132_000"
EXAMPLE_CHECK = "SpeciesSupportedAsStated__VC_382560912877_000"


@pytest.fixture
def examples(al_model, examples_dir):
    from repository.importer import import_repository

    report = import_repository(examples_dir)
    assert not [r for r in report.rejected if EXAMPLE_BULK in str(r[0])], report.rejected
    return report


@pytest.mark.slow
def test_example_bulk_modulus_after_its_lattice_constant(examples, al_model):
    from repository.models import Test, kim_obj

    bulk = Test.objects.get(kim_id=EXAMPLE_BULK)
    assert error_of(run_pair(bulk, al_model), "dependency")
    lattice = run_pair(kim_obj(EXAMPLE_LATTICE), al_model)
    assert isinstance(lattice, TestResult), getattr(lattice, "message", lattice)
    a = PropertyValue.objects.get(result=lattice, property_name="structure-cubic-crystal-npt", key="a")
    assert a.value == pytest.approx(4.032, abs=0.01)
    Error.objects.all().delete()
    result = run_pair(bulk, al_model)
    assert isinstance(result, TestResult), getattr(result, "message", result)
    assert result.provenance["upstream-results"] == [lattice.kim_id]
    modulus, unit = result["isothermal-bulk-modulus"]
    assert 50 < modulus < 120 and unit == "GPa"


@pytest.mark.slow
def test_example_2012_test_and_check(examples, al_model):
    from repository.models import kim_obj

    result = run_pair(kim_obj(EXAMPLE_2012), al_model)
    assert isinstance(result, TestResult), getattr(result, "message", result)
    assert result["PR_110425337914_000"][0] == pytest.approx(4.032, abs=0.01)
    # The 2012 PR code is named by the example repository's Property item.
    assert result.values.get(key="lattice_constant").property_name == "structure-cubic-crystal-npt"
    check = kim_obj(EXAMPLE_CHECK)(al_model)
    assert isinstance(check, VerificationResult), getattr(check, "message", check)
    # The installed EAM Al model states exactly the species the KIM API reports: a pass.
    assert check.grade == "P"
