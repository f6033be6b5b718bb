"""A warm run and a fresh run of every example test give identical results.

Every test of the example repository (and the mandatory check) runs twice through the real
pipeline on one real model per species: once with ``PIPELINE_PREWARM=0`` (each Python process a
fresh interpreter), once forked from the warm server. The values of every result, the
categories of every error and the pairs computed are the same; the warm run did fork its
Python processes from the server (none ran cold) and accounted their user time and memory.
"""

import pytest

from repository.importer import import_repository
from repository.installed import register_installed_items
from repository.models import Error, Model, Test, TestResult, VerificationResult
from runner import director, jobs, warm
from runner.models import Job
from runner.warm import client

pytestmark = [pytest.mark.kimapi, pytest.mark.slow, pytest.mark.django_db, pytest.mark.dbneutral]

#: One real model per species of the example tests.
MODELS = (
    "EAM_Dynamo_AcklandTichyVitek_1987_Ag__MO_212700056563_005",
    "EAM_Dynamo_ErcolessiAdams_1994_Al__MO_123629422045_005",
    "LJ_Shifted_Bernardes_1958MedCutoff_Ar__MO_126566794224_004",
    "EAM_Dynamo_AcklandTichyVitek_1987_Au__MO_104891429740_005",
    "Tersoff_LAMMPS_Tersoff_1988_C__MO_579868029681_003",
    "EAM_Dynamo_MendelevKing_2013_Cu__MO_748636486270_005",
    "EAM_Dynamo_AcklandBaconCalder_1997_Fe__MO_142799717516_005",
    "EAM_Dynamo_ZhouJohnsonWadley_2004_Mo__MO_271256517527_005",
    "EAM_Dynamo_AcklandTichyVitek_1987_Ni__MO_977363131043_005",
    "SW_StillingerWeber_1985_Si__MO_405512056662_005",
    "EAM_Dynamo_Ackland_2003_W__MO_141627196590_005",
)


def _outcomes() -> dict:
    """(runner, model) → what was kept: the values of a result, the category of an error."""
    found = {}
    for result in TestResult.objects.select_related("test", "model"):
        found[(result.test.kim_id, result.model.kim_id)] = ("result", result.instances)
    for result in VerificationResult.objects.select_related("verification_check", "model"):
        found[(result.verification_check.kim_id, result.model.kim_id)] = ("verification",
                                                                          result.instances)
    for error in Error.objects.select_related("test", "verification_check", "model"):
        runner = error.test or error.verification_check
        found[(runner.kim_id, error.model.kim_id)] = ("error", error.category)
    return found


def _compute_everything() -> dict:
    director.submit_all(dispatch=False)
    jobs.run_pending(workers=1, progress=False)
    assert set(Job.objects.values_list("state", flat=True)) == {Job.State.DONE}
    outcomes = _outcomes()
    usage = {result.kim_id: (result.usertime, result.memmax)
             for result in TestResult.objects.all()}
    Job.objects.all().delete()
    for kind in (TestResult, VerificationResult, Error):
        for outcome in kind.objects.all():
            outcome.delete()  # the admin's delete: the folder goes with the row
    return outcomes, usage


def test_a_warm_and_a_fresh_run_of_every_example_test_give_identical_results(
        repository_dir, examples_dir, settings, monkeypatch):
    register_installed_items()
    report = import_repository(examples_dir)
    assert not report.rejected, report.rejected
    Model.objects.exclude(kim_id__in=MODELS).delete()
    assert Model.objects.count() == len(MODELS), "a model of this test is not installed"

    settings.PIPELINE_PREWARM = "0"
    fresh, _ = _compute_everything()

    settings.PIPELINE_PREWARM = "on"
    warm.stop()
    # Started and waited for, so that every run of this pass is warm (a worker does not wait:
    # what starts before the server listens runs cold).
    from runner import execute
    from runner.sandbox import environment

    server = warm.server_for(environment(execute.subprocess_environment(), repository_dir))
    assert server is not None and server.wait_ready(), "the warm server did not start"
    forked = []
    usage_of = client.WarmServer.usage
    monkeypatch.setattr(client.WarmServer, "usage",
                        lambda self, tag: forked.append(usage_of(self, tag)) or forked[-1])
    try:
        prewarmed, usage = _compute_everything()
    finally:
        warm.stop()

    assert set(prewarmed) == set(fresh)
    for pair, outcome in fresh.items():
        assert prewarmed[pair] == outcome, f"{pair}: fresh {outcome!r}, warm {prewarmed[pair]!r}"
    # Every example test has a result here, not an error; and each of its runs was warm.
    tested = {test.kim_id for test in Test.objects.all()}
    assert tested <= {runner for (runner, _model), (kind, _) in prewarmed.items() if kind == "result"}
    assert len(forked) >= len(prewarmed) and all(used.jobs >= 1 for used in forked), \
        "a run's Python process ran cold"
    assert all(seconds and seconds > 0 and memory and memory > 50_000
               for seconds, memory in usage.values()), "the forks' time and memory were not counted"
