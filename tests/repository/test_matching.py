"""Matching tests and checks with models: the 2020 rules, checked against the real KIM API."""

from io import StringIO

import pytest
from django.core.management import call_command

from repository import kimapi, matching
from repository.installed import register_installed_items
from repository.models import MatchVerdict, Model, SourceFormat, Test, VerificationCheck
from tests import factories
from tests.factories import make_test

pytestmark = [pytest.mark.kimapi, pytest.mark.django_db]

SPECIES_SETS = [["Ar"], ["Al"], ["Cu"], ["Ni"], ["Fe"], ["W"], ["Si"], ["C"],
                ["Al", "Cu"], ["Si", "C"], ["Fe", "Ni"]]
EAM_NI = "EAM_CubicNaturalSpline_AngeloMoodyBaskes_1995_Ni__MO_800536961967_003"
ADP_ALCU = "Sim_LAMMPS_ADP_ApostolMishin_2011_AlCu__SM_667696763561_000"
MEAM_LISI_COMPATIBLE = "Sim_LAMMPS_MEAM_CuiGaoCui_2012_LiSi__SM_562938628131_000"


@pytest.fixture
def installed(kim_api_dir):
    register_installed_items()


def species_check() -> VerificationCheck:
    return factories.make_check(number=900, metadata={"matching-models": ["standard-models"]})


@pytest.mark.slow
def test_species_rule_agrees_with_the_kim_api_for_every_installed_model(installed):
    models = list(Model.objects.all())
    checks = kimapi.check_models(m.kim_id for m in models)
    installed_version = matching.installed_api_version()
    disagreements = []
    for number, species in enumerate(SPECIES_SETS, start=1):
        runner = matching.runner_facts(make_test(number=number, species=species))
        for model in models:
            by_rules = matching.check_rules(runner, matching.model_facts(model), installed_version)
            by_kim_api = checks[model.kim_id].supports(species)
            if (by_rules.rule != "species") != by_kim_api:
                disagreements.append((species, model.kim_id))
    print(f"{len(models)} models x {len(SPECIES_SETS)} species sets: "
          f"{len(disagreements)} disagreements")
    assert disagreements == []


@pytest.mark.slow
def test_authoritative_step_confirms_every_candidate_the_database_found(installed):
    refused = []
    for number, species in enumerate(SPECIES_SETS, start=1):
        test = make_test(number=number, species=species)
        cheap = {m.kim_id for m in matching.matching_models(test, authoritative=False)}
        confirmed = {m.kim_id for m in matching.matching_models(test)}
        refused += sorted(cheap - confirmed)
        assert confirmed <= cheap
    assert refused == []
    ni_models = {m.kim_id for m in matching.matching_models(Test.objects.get(species=["Ni"]))}
    assert EAM_NI in ni_models
    assert all(Model.objects.get(kim_id=k).kind == Model.Kind.PORTABLE for k in ni_models)
    assert MatchVerdict.objects.filter(accepted=True).count() >= len(ni_models)


def test_species_are_compared_without_case(installed):
    test = make_test(number=1, species=["ni"])
    assert matching.match(test, Model.objects.get(kim_id=EAM_NI))


def test_verdict_names_the_first_failed_rule(installed):
    eam_ni = Model.objects.get(kim_id=EAM_NI)
    adp = Model.objects.get(kim_id=ADP_ALCU)
    assert matching.match(make_test(number=1, species=["Cu"]), eam_ni).rule == "species"
    assert matching.match(make_test(number=2, species=["Ni"], kim_api_version="3.0"), eam_ni).rule == "kim-api-version"
    assert matching.match(make_test(number=3, species=["Ni"], kim_api_version=""), eam_ni).rule == "kim-api-version"
    only_meam = make_test(number=4, species=["Ni"], matching_models=["meam/c"], simulator_name="LAMMPS")
    assert matching.match(only_meam, eam_ni).rule == "matching-models"
    standard = make_test(number=5, species=["Al"])
    assert matching.match(standard, adp).rule == "matching-models"  # not marked compatible
    adp_test = make_test(number=6, species=["Al", "Cu"], matching_models=["adp"], simulator_name="ASAP")
    verdict = matching.match(adp_test, adp)
    assert (verdict.ok, verdict.rule) == (False, "simulator-name")
    assert "LAMMPS" in verdict.reason and "asap" in verdict.reason
    assert matching.match(make_test(number=7, species=["Al", "Cu"], matching_models=["adp"], simulator_name="LAMMPS"), adp)


def test_simulator_model_marked_compatible_runs_standard_tests_of_its_simulator(installed):
    compatible = Model.objects.get(kim_id=MEAM_LISI_COMPATIBLE)
    assert matching.match(make_test(number=1, species=["Si"], simulator_name="LAMMPS"), compatible)
    assert matching.match(make_test(number=2, species=["Si"]), compatible).rule == "simulator-name"


def test_2012_test_without_kim_api_version_matches(installed):
    test = Test.objects.create(kim_id="LatticeConstant_Ni__TE_000000000077_000", species=["Ni"],
                               source_format=SourceFormat.KIM2012)
    assert matching.match(test, Model.objects.get(kim_id=EAM_NI))


def test_verification_check_runs_on_every_portable_model_whatever_its_species(installed):
    check = species_check()
    matched = matching.matching_models(check)
    portable = Model.objects.filter(kind=Model.Kind.PORTABLE)
    assert {m.kim_id for m in matched} == set(portable.values_list("kim_id", flat=True))
    assert matching.match(check, Model.objects.get(kim_id=ADP_ALCU)).rule == "matching-models"
    compatible = Model.objects.get(kim_id=MEAM_LISI_COMPATIBLE)
    assert matching.match(check, compatible).rule == "simulator-name"


def test_matching_runners_of_a_model(installed):
    ni = make_test(number=1, species=["Ni"])
    make_test(number=2, species=["Cu"])
    ni_fe = make_test(number=3, species=["Fe", "Ni"])
    check = species_check()
    runners = matching.matching_runners(Model.objects.get(kim_id=EAM_NI))
    assert runners == [ni, check]
    fe_ni_models = matching.matching_models(ni_fe)
    assert fe_ni_models and all({"Fe", "Ni"} <= set(m.species) for m in fe_ni_models)


def test_model_not_installed_fails_the_kim_api_rule_and_is_not_cached(installed):
    source_only = Model.objects.create(kim_id="LJ_Source_Ni__MO_000000000333_000", species=["Ni"],
                                       kim_api_version="2.2")
    test = make_test(number=1, species=["Ni"])
    verdict = matching.match(test, source_only)
    assert verdict.rule == "kim-api" and "not installed" in verdict.reason
    assert not MatchVerdict.objects.filter(model_kim_id=source_only.kim_id).exists()
    assert matching.match(test, source_only, authoritative=False)


def test_kim_api_verdicts_are_cached_per_item_version(installed, monkeypatch):
    test = make_test(number=1, species=["Ni"])
    first = {m.kim_id for m in matching.matching_models(test)}

    def no_kim_api(names):  # a fake, only to show the second answer comes from the cache
        raise AssertionError(f"the KIM API was asked again about {list(names)}")

    monkeypatch.setattr(kimapi, "check_models", no_kim_api)
    assert {m.kim_id for m in matching.matching_models(test)} == first
    assert matching.forget_verdicts([EAM_NI]) >= 1


def test_matches_command_lists_partners_and_explains_refusals(installed):
    make_test(number=1, species=["Ni"], name="LatticeConstant_Ni")
    adp_test = make_test(number=2, species=["Al", "Cu"], matching_models=["adp"], simulator_name="ASAP",
                         name="Adp_AlCu")
    out = StringIO()
    # -v 2: every non-match on a line of its own (the default is a summary per rule).
    call_command("matches", "LatticeConstant_Ni__TE_000000000001_000", "--why", stdout=out,
                 verbosity=2)
    text = out.getvalue()
    assert EAM_NI in text.split("not matching")[0]
    lines = {line.split()[0]: line for line in text.splitlines()[2:] if line.startswith("  ")}
    cu_model = "EAM_Dynamo_MendelevKing_2013_Cu__MO_748636486270_005"
    assert cu_model in Model.objects.values_list("kim_id", flat=True)
    assert "[species]" in lines[cu_model] and "does not support Ni" in lines[cu_model]
    out = StringIO()
    call_command("matches", adp_test.kim_id, "--why", "--no-kimapi", stdout=out)
    adp_line = next(line for line in out.getvalue().splitlines() if ADP_ALCU in line)
    assert "[simulator-name]" in adp_line
    out = StringIO()
    call_command("matches", EAM_NI, stdout=out)
    assert "LatticeConstant_Ni__TE_000000000001_000" in out.getvalue()
