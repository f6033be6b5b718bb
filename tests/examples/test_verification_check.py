"""The species-supported-as-stated check on real models."""

import shutil

import kim_edn
import pytest
from kim_property import check_property_instances, get_properties

from repository.models import Error, Model, VerificationResult
from runner.execute import run_pair, subprocess_environment
from runner.processes import run_process
from runner.template import render_input

from . import models
from .pipeline import example_check, instance_values, run

pytestmark = [pytest.mark.kimapi, pytest.mark.django_db, pytest.mark.usefixtures("examples")]


def grade_of(instances):
    # The overall instance first, then one per figure (the check's parts).
    assert set(instance_values(instances, "verification-check", "vc-category")) == {"mandatory"}
    assert set(instance_values(instances, "verification-check", "vc-grade-basis")) == {"passfail"}
    value = instance_values(instances, "verification-check", "vc-grade")[0]
    comment = instance_values(instances, "verification-check", "vc-comment")[0]
    return value, comment


def grade(model):
    result = run(example_check("SpeciesSupportedAsStated"), model)
    assert isinstance(result, VerificationResult)
    # run_pair has validated the results against kim-property's verification-check definition.
    value, comment = grade_of(result.instances)
    assert result.grade == value
    return value, comment


def grade_in_a_plain_process(model_name, scratch):
    """Run the check on a model as a plain process (for pairs the pipeline does not run): the
    input rendered by the real template engine, started by the runner's own run_process in the
    runner's environment, the results validated with kim-property."""
    check = example_check("SpeciesSupportedAsStated")
    rendered = render_input(check, Model(kim_id=model_name))  # a row of its own is not needed
    workdir = scratch / check.kim_id
    shutil.copytree(check.path, workdir)
    (workdir / "output").mkdir()
    (workdir / "pipeline.stdin").write_text(rendered.text)
    record = run_process([str(workdir / "runner")], cwd=workdir, stdin_path=workdir / "pipeline.stdin",
                         stdout_path=workdir / "pipeline.stdout", stderr_path=workdir / "pipeline.stderr",
                         env=subprocess_environment(), timeout=120, limit=1 << 20,
                         run_tag=f"tests/{workdir.name}")
    assert record.exit_code == 0, (workdir / "pipeline.stderr").read_text()[-3000:]
    text = (workdir / "output" / "results.edn").read_text()
    check_property_instances(text, fp_path=get_properties())
    return grade_of(kim_edn.loads(text))


def test_a_portable_model_supports_the_species_it_states():
    value, comment = grade(models.AL_MISHIN)
    assert value == "P" and "['Al']" in comment


def test_a_simulator_model_supports_the_species_it_states(tmp_path):
    # The check matches standard models, and no installed simulator model is marked compatible
    # with them: the pipeline refuses the pair, so the check's simulator branch runs alone.
    refused = run_pair(example_check("SpeciesSupportedAsStated"), Model.objects.get(kim_id=models.SIM_ALCU))
    assert isinstance(refused, Error) and refused.category == "mismatch", refused
    value, comment = grade_in_a_plain_process(models.SIM_ALCU, tmp_path)
    assert value == "P" and "['Al', 'Cu']" in comment


def test_a_model_without_stated_species_cannot_be_graded(tmp_path):
    # LennardJones612_UniversalShifted ships no kimspec.edn, but supports every species. The
    # pipeline knows this KIM code only by its other name, which has a kimspec.edn.
    assert not Model.objects.filter(kim_id=models.LJ_UNIVERSAL_WITHOUT_KIMSPEC).exists()
    value, comment = grade_in_a_plain_process(models.LJ_UNIVERSAL_WITHOUT_KIMSPEC, tmp_path)
    assert value == "N/A" and "139 species" in comment
