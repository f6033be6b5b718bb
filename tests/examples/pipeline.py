"""Running the imported example items with the real runner (runner.execute.run_pair), and reading
what it kept: TestResult / VerificationResult rows, their PropertyValue rows and result folders."""

from repository.models import Error, Model, Test, TestResult, VerificationCheck


def example_test(name: str) -> Test:
    """The imported test `name__TE_…` (name without number), e.g. "BulkModulusCubic_fcc_Al"."""
    return Test.objects.get(kim_id__startswith=f"{name}__TE_")


def example_check(name: str) -> VerificationCheck:
    return VerificationCheck.objects.get(kim_id__startswith=f"{name}__VC_")


def explain(error: Error) -> str:
    """What a failed run left, for an assertion message."""
    text = (f"{error.runner} × {error.model}: {error.category}: {error.message}\n"
            f"--- stdout tail ---\n{error.stdout_tail}\n--- stderr tail ---\n{error.stderr_tail}")
    if error.kimlog_tail:
        text += f"\n--- kim.log tail ---\n{error.kimlog_tail}"
    return text


def run(runner_item, model_id: str):
    """run_pair on an installed model; an Error fails the test with its message and tails."""
    from runner.execute import run_pair

    outcome = run_pair(runner_item, Model.objects.get(kim_id=model_id))
    assert not isinstance(outcome, Error), explain(outcome)
    return outcome


def one(result: TestResult, key: str) -> tuple:
    """(value, unit) of a property key the result holds once (TestResult[...] answers a dict
    when it holds several)."""
    found = result[key]
    assert isinstance(found, tuple), f"{result} holds {key} more than once: {found}"
    return found


def values(result: TestResult, property_name: str, key: str) -> list:
    """The values of `key` in every instance of the property `property_name`, by instance-id."""
    return [row.value for row in
            result.values.filter(property_name=property_name, key=key).order_by("instance")]


def instance_values(instances: list, short_name: str, key: str) -> list:
    """The `key` source-values of every instance of `short_name` in a list of property instances."""
    return [instance[key]["source-value"] for instance in instances
            if instance["property-id"].endswith(f"property/{short_name}")]


def kept(outcome, name: str) -> str:
    """A file of the result folder: pipeline.stdin, pipeline.stdout, pipeline.stderr, results.edn, …"""
    return (outcome.path / name).read_text()
