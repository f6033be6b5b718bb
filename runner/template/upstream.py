"""The upstream pairs a runner's input needs, read with the one dependency reader
(repository.dependencies.declared_upstream, as the importer fills ``Test.depends_on``), and
which of them have no current result yet.

``upstream_of`` is the one resolution, in bulk: the runner (``required_upstream``) and the
director (which jobs wait for which pairs) both read it, so they never disagree about a pair.
"""

from dataclasses import dataclass, field
from pathlib import Path

from repository import dependencies, kimcodes
from repository.errors import PipelineDataMissing, PipelineError, PipelineTemplateError
from repository.models import Model, Test, TestResult, latest_outcome


@dataclass
class RunnerUpstream:
    """What one runner reads: (latest Test, latest literal Model or None for the subject).

    ``unresolved``: (test text, model text, reason) of references nothing in the database
    answers; ``error``: the error reading the folder's declarations, if any.
    """

    pairs: list[tuple] = field(default_factory=list)
    unresolved: list[tuple[str, str | None, str]] = field(default_factory=list)
    error: PipelineError | None = None

    def for_model(self, model) -> list[tuple]:
        """(Test, Model) pairs for a run on ``model``, once each, in order."""
        found, seen = [], set()
        for test, fixed in self.pairs:
            subject = model if fixed is None or _lineage(fixed) == _lineage(model) else fixed
            if (test.pk, subject.pk) not in seen:
                seen.add((test.pk, subject.pk))
                found.append((test, subject))
        return found


def _lineage(item) -> tuple[str, str]:
    return item.leader, item.number


def upstream_of(runner_items) -> dict[str, RunnerUpstream]:
    """runner KIM ID → its RunnerUpstream, for many runners in a fixed number of queries.

    Each Upstream of the folder (``declared_upstream``) and each test of ``depends_on``
    (paired with the subject) is resolved to the latest version of the test it names, and a
    literal model to the latest version of its lineage: "current" is about latest versions
    (``repository.models.latest_outcome``).
    """
    runner_items = list({r.kim_id: r for r in runner_items}.values())
    answer: dict[str, RunnerUpstream] = {}
    texts: dict[str, list] = {}
    for item in runner_items:
        answer[item.kim_id] = RunnerUpstream()
        try:
            texts[item.kim_id] = [(u.test, u.model) for u in dependencies.declared_upstream(
                Path(item.path), item.source_format)]
        except PipelineError as exc:
            answer[item.kim_id].error = exc
            texts[item.kim_id] = []
        except RecursionError:  # jinja2's parser recurses once per level of nesting
            answer[item.kim_id].error = PipelineTemplateError(
                "the input template is nested too deeply to parse", kim_id=item.kim_id)
            texts[item.kim_id] = []
    tests = [r for r in runner_items if isinstance(r, Test) and r.pk]
    if tests:
        through = Test.depends_on.through
        for source, kim_id in (through.objects.filter(from_test_id__in=[t.pk for t in tests])
                               .order_by("pk").values_list("from_test__kim_id", "to_test__kim_id")):
            texts[source].append((kim_id, None))

    test_of = _resolve_tests({t for pairs in texts.values() for t, _ in pairs})
    model_of = _resolve_models({m for pairs in texts.values() for _, m in pairs if m})
    for kim_id, pairs in texts.items():
        for test_text, model_text in pairs:
            test = test_of.get(test_text)
            fixed = model_of.get(model_text) if model_text else None
            if isinstance(test, str) or isinstance(fixed, str):
                reason = test if isinstance(test, str) else fixed
                answer[kim_id].unresolved.append((test_text, model_text, reason))
            elif (test, fixed) not in answer[kim_id].pairs:
                answer[kim_id].pairs.append((test, fixed))
    return answer


def _latest(rows) -> dict[tuple[str, str], object]:
    latest: dict[tuple[str, str], object] = {}
    for row in rows:
        key = _lineage(row)
        if key not in latest or row.version > latest[key].version:
            latest[key] = row
    return latest


def _answers(code, rows) -> bool:
    return any(r.leader == code.leader and r.number == code.number
               and (code.version is None or r.version == code.version)
               and (code.name is None or r.name == code.name) for r in rows)


def _resolve_tests(texts: set[str]) -> dict[str, object]:
    """text → latest Test of the lineage it names, or the reason nothing answers (a str)."""
    names = {t: dependencies._name_only(t) for t in texts}
    by_name: dict[str, str] = {}
    if any(names.values()):
        # A name-only reference: the newest lineage of that name (dependencies.resolve_test).
        for name, number in (Test.objects.filter(name__in={n for n in names.values() if n})
                             .order_by("created_at", "version").values_list("name", "number")):
            by_name[name] = number
    codes = {t: kimcodes.parse_kim_code(t) for t, name in names.items() if name is None}
    numbers = {c.number for c in codes.values()} | set(by_name.values())
    rows = list(Test.objects.filter(number__in=numbers)) if numbers else []
    latest = _latest(rows)
    answer: dict[str, object] = {}
    for text, name in names.items():
        if name is not None:
            number = by_name.get(name)
            answer[text] = latest[("TE", number)] if number else f"no test is named {name!r}"
        elif _answers(codes[text], rows):
            answer[text] = latest[(codes[text].leader, codes[text].number)]
        else:
            answer[text] = f"no {Test._meta.verbose_name} answers to {text!r}"
    return answer


def _resolve_models(texts: set[str]) -> dict[str, object]:
    """text → latest Model of the lineage it names, or the reason nothing answers (a str)."""
    codes = {t: kimcodes.parse_kim_code(t) for t in texts}
    numbers = {c.number for c in codes.values()}
    rows = list(Model.objects.filter(number__in=numbers)) if numbers else []
    latest = _latest(rows)
    return {text: latest[(code.leader, code.number)] if _answers(code, rows)
            else f"no {Model._meta.verbose_name} answers to {text!r}"
            for text, code in codes.items()}


def required_upstream(runner_item, model) -> list[tuple]:
    """(Test, Model) pairs whose results ``runner_item``'s input needs for ``model``.

    What the item folder declares or reads literally (dependencies.edn, 2012
    ``@DATA[TE][MO][PR]``, literal ``get_test_result`` / ``query`` references) and the test's
    ``depends_on``, each upstream test paired with ``model`` unless a literal model is named.
    A named test or model that is not in the database is PipelineDataMissing.
    """
    upstream = upstream_of([runner_item])[runner_item.kim_id]
    if upstream.error is not None:
        raise upstream.error
    if upstream.unresolved:
        test_text, model_text, reason = upstream.unresolved[0]
        raise PipelineDataMissing(f"{runner_item.kim_id} depends on ({test_text}, "
                                  f"{model_text or model.kim_id}), but {reason}",
                                  kim_id=runner_item.kim_id)
    return upstream.for_model(model)


def missing_upstream(runner_item, model) -> list[tuple]:
    """The required pairs whose current outcome (the shared definition) is not a result.

    An upstream pair whose current outcome is an Error raises PipelineDataMissing naming that
    error (``upstream failed: ER_… (category: reason)``): it will not "exist yet" by waiting.
    """
    missing, failed = [], []
    for test, subject in required_upstream(runner_item, model):
        outcome = latest_outcome(test, subject)
        if isinstance(outcome, TestResult):
            continue
        missing.append((test, subject))
        if outcome is not None:
            reason = outcome.message.strip().splitlines()[0][:200] if outcome.message else ""
            failed.append(f"{outcome.kim_id} ({outcome.category}: {reason}) of "
                          f"{test.kim_id} × {subject.kim_id}")
    if failed:
        raise PipelineDataMissing("upstream failed: " + "; ".join(failed),
                                  kim_id=runner_item.kim_id)
    return missing
