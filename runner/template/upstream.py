"""The upstream pairs a runner's input needs, read with the one dependency reader
(repository.dependencies.declared_upstream, as the importer fills ``Test.depends_on``), and
which of them have no current result yet."""

from pathlib import Path

from repository import dependencies
from repository.errors import InvalidKIMID, PipelineDataMissing, PipelineSearchError
from repository.models import Model, Test, TestResult, latest_outcome


def required_upstream(runner_item, model) -> list[tuple]:
    """(Test, Model) pairs whose results ``runner_item``'s input needs for ``model``.

    What the item folder declares or reads literally (dependencies.edn, 2012
    ``@DATA[TE][MO][PR]``, literal ``get_test_result`` / ``query`` references) and the test's
    ``depends_on``, each upstream test paired with ``model`` unless a literal model is named.
    A named test or model that is not in the database is PipelineDataMissing.
    """
    pairs = [(upstream.test, upstream.model or model.kim_id)
             for upstream in dependencies.declared_upstream(Path(runner_item.path),
                                                            runner_item.source_format)]
    if isinstance(runner_item, Test) and runner_item.pk:
        pairs += [(upstream.kim_id, model.kim_id) for upstream in runner_item.depends_on.all()]
    found, seen = [], set()
    for test_text, model_text in pairs:
        try:
            test = dependencies.resolve_test(test_text)
            subject = model if model_text == model.kim_id else Model.objects.resolve(model_text)
        except (PipelineSearchError, InvalidKIMID) as exc:
            raise PipelineDataMissing(f"{runner_item.kim_id} depends on ({test_text}, {model_text}), "
                                      f"but {exc.reason}", kim_id=runner_item.kim_id) from exc
        if (test.pk, subject.pk) not in seen:
            seen.add((test.pk, subject.pk))
            found.append((test, subject))
    return found


def missing_upstream(runner_item, model) -> list[tuple]:
    """The required pairs whose current outcome (the shared definition) is not a result."""
    return [(test, subject) for test, subject in required_upstream(runner_item, model)
            if not isinstance(latest_outcome(test, subject), TestResult)]
