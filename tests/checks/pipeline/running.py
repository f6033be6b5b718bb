"""Running one example check on one model through the pipeline (runner.execute.run_pair)."""

from repository.models import Error, Model, VerificationCheck, VerificationResult
from tests.examples.pipeline import explain


def check_item(name: str) -> VerificationCheck:
    return VerificationCheck.objects.get(kim_id__startswith=f"{name}__VC_")


def run_check(name: str, model_id: str) -> VerificationResult:
    """The check's VerificationResult on the model; an Error fails the test with its tails."""
    from runner.execute import run_pair

    outcome = run_pair(check_item(name), Model.objects.get(kim_id=model_id))
    assert not isinstance(outcome, Error), explain(outcome)
    return outcome


def figures(result: VerificationResult) -> dict:
    """{figure name: (grade, comment)} of the result's per-figure instances."""
    return {i["vc-name"]["source-value"].split("/", 1)[1]: (i["vc-grade"]["source-value"],
                                                          i["vc-comment"]["source-value"])
            for i in result.instances[1:]}
