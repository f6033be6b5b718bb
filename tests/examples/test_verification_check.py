"""The species-supported-as-stated check on real models."""

import pytest

from . import models
from .standin import item_dir, property_values, run_item

pytestmark = pytest.mark.kimapi


def grade(model, scratch):
    run = run_item(item_dir("SpeciesSupportedAsStated", "VC"), model, scratch)
    assert run.returncode == 0, run.stderr[-3000:]
    results = run.results  # validated against kim-property's verification-check definition
    assert property_values(results, "verification-check", "vc-category") == ["informational"]
    assert property_values(results, "verification-check", "vc-grade-basis") == ["passfail"]
    (value,) = property_values(results, "verification-check", "vc-grade")
    (comment,) = property_values(results, "verification-check", "vc-comment")
    return value, comment


def test_a_portable_model_supports_the_species_it_states(tmp_path):
    value, comment = grade(models.AL_MISHIN, tmp_path)
    assert value == "P" and "['Al']" in comment


def test_a_simulator_model_supports_the_species_it_states(tmp_path):
    value, comment = grade(models.SIM_ALCU, tmp_path)
    assert value == "P" and "['Al', 'Cu']" in comment


def test_a_model_without_stated_species_cannot_be_graded(tmp_path):
    # LennardJones612_UniversalShifted ships no kimspec.edn, but supports every species.
    value, comment = grade(models.AR_LJ_UNIVERSAL, tmp_path)
    assert value == "N/A" and "139 species" in comment
