"""Which Tests and Verification Checks may run on which Models: the 2020 rules, in order.

The first four rules are read from the database for all pairs at once; the fifth (the KIM API
accepts the pair) is asked of the KIM API only for the pairs that passed them, in one worker
process, and the answer is kept in MatchVerdict per item version.
"""

import json
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

from django.db.models import TextField
from django.db.models.fields.json import KT
from django.db.models.functions import Cast

from repository import kimapi
from repository.errors import PipelineSearchError
from repository.models import MatchVerdict, Model, SourceFormat, Test, VerificationCheck, kim_obj

log = logging.getLogger("pipeline.matching")

#: The rules in the order they are applied; a Verdict names the first that failed.
RULES = ("species", "kim-api-version", "matching-models", "simulator-name", "kim-api")
STANDARD_MODELS = "standard-models"


@dataclass(frozen=True)
class Verdict:
    ok: bool
    rule: str | None
    reason: str

    def __bool__(self) -> bool:
        return self.ok


ACCEPTED_BY_RULES = Verdict(True, None, "passes the species, KIM API version, matching-models "
                                        "and simulator rules")


@dataclass(frozen=True)
class RunnerFacts:
    """What the rules need to know of a Test or a Verification Check."""

    pk: int
    kim_id: str
    is_check: bool
    species: frozenset
    kim_api_version: str
    source_format: str
    matching_models: tuple
    simulator_name: str
    symbols: tuple = ()  # species as declared, for messages


@dataclass(frozen=True)
class ModelFacts:
    pk: int
    kim_id: str
    kind: str
    species: frozenset
    kim_api_version: str
    source_format: str
    simulator_name: str
    compatible_with_standard: bool
    simulator_potential: str
    symbols: tuple = ()


def _lower_set(symbols) -> frozenset:
    return frozenset(s.lower() for s in (symbols or []) if isinstance(s, str))


def _matching_values(values, source_format: str) -> tuple:
    # An item without matching-models (every 2012 item) is a standard-models runner.
    values = tuple(v for v in (values or []) if isinstance(v, str))
    return values or (STANDARD_MODELS,)


def runner_facts(item) -> RunnerFacts:
    if isinstance(item, VerificationCheck):
        meta = item.metadata or {}
        return RunnerFacts(item.pk, item.kim_id, True, frozenset(), item.kim_api_version,
                           item.source_format,
                           _matching_values(meta.get("matching-models"), item.source_format),
                           str(meta.get("simulator-name") or "").lower())
    if isinstance(item, Test):
        return RunnerFacts(item.pk, item.kim_id, False, _lower_set(item.species),
                           item.kim_api_version, item.source_format,
                           _matching_values(item.matching_models, item.source_format),
                           (item.simulator_name or "").lower(), tuple(item.species or ()))
    raise TypeError(f"a runner is a Test or a VerificationCheck, not {type(item).__name__}")


def model_facts(model: Model) -> ModelFacts:
    return ModelFacts(model.pk, model.kim_id, model.kind, _lower_set(model.species),
                      model.kim_api_version, model.source_format,
                      (model.simulator_name or "").lower(), model.simulator_compatible_with_standard,
                      str((model.metadata or {}).get("simulator-potential") or "").lower(),
                      tuple(model.species or ()))


# --- Rules 1–4: from what the items declare ----------------------------------------------------

def installed_api_version() -> tuple[int, int]:
    major, minor, *_ = (int(p) for p in kimapi.kim_api_version().split("."))
    return major, minor


@lru_cache(maxsize=256)
def version_supported(declared: str, source_format: str, installed: tuple[int, int]) -> str | None:
    """None when the installed KIM API runs an item declaring ``declared``; else why not."""
    if not declared:
        if source_format == SourceFormat.KIM2012:
            return None  # the 2012 format predates the declaration
        return "declares no kim-api-version"
    try:
        parts = tuple(int(p) for p in declared.strip().split(".")[:2])
    except ValueError:
        return f"declares an unreadable kim-api-version {declared!r}"
    major, minor = (parts + (0,))[:2]
    if major != installed[0] or minor > installed[1]:
        return (f"declares kim-api-version {declared}; the installed KIM API "
                f"{installed[0]}.{installed[1]} runs {installed[0]}.0–{installed[0]}.{installed[1]}")
    return None


def check_rules(runner: RunnerFacts, model: ModelFacts, installed: tuple[int, int]) -> Verdict:
    """Rules 1–4 for one pair, from declared facts only."""
    if not runner.is_check:
        if not runner.species <= model.species:
            missing = [s for s in runner.symbols if s.lower() not in model.species]
            return Verdict(False, "species",
                           f"{model.kim_id} does not support {', '.join(missing)} "
                           f"(supports {', '.join(model.symbols) or 'nothing declared'})")
    for who, declared, source_format in ((runner.kim_id, runner.kim_api_version, runner.source_format),
                                         (model.kim_id, model.kim_api_version, model.source_format)):
        problem = version_supported(declared, source_format, installed)
        if problem:
            return Verdict(False, "kim-api-version", f"{who} {problem}")
    values = {v.lower() for v in runner.matching_models}
    if model.kind == Model.Kind.PORTABLE:
        if STANDARD_MODELS not in values:
            return Verdict(False, "matching-models",
                           f"{runner.kim_id} matches only simulator potentials "
                           f"({', '.join(runner.matching_models)}); {model.kim_id} is a portable model")
    else:
        standard = STANDARD_MODELS in values and model.compatible_with_standard
        named = model.simulator_potential and model.simulator_potential in values
        if not (standard or named):
            return Verdict(False, "matching-models",
                           f"{runner.kim_id} matches {', '.join(runner.matching_models)}; simulator "
                           f"model {model.kim_id} (potential {model.simulator_potential or 'none'}) "
                           + ("is not marked compatible with standard models"
                              if STANDARD_MODELS in values else "is not one of them"))
        if runner.simulator_name != model.simulator_name:
            return Verdict(False, "simulator-name",
                           f"{runner.kim_id} uses simulator {runner.simulator_name or 'none'}; "
                           f"{model.kim_id} is for {model.simulator_name or 'no simulator'}")
    return ACCEPTED_BY_RULES


# --- Rule 5: the KIM API's own answer, cached per item version ---------------------------------

def _kim_api_verdicts(pairs: list[tuple[RunnerFacts, ModelFacts]]) -> dict[tuple[str, str], Verdict]:
    """The KIM API's verdict for each pair: from MatchVerdict, else by creating each model once."""
    if not pairs:
        return {}
    verdicts: dict[tuple[str, str], Verdict] = {}
    runner_ids = {r.kim_id for r, _ in pairs}
    model_ids = {m.kim_id for _, m in pairs}
    cached = MatchVerdict.objects.filter(runner_kim_id__in=runner_ids, model_kim_id__in=model_ids)
    for runner_id, model_id, accepted, reason in cached.values_list(
            "runner_kim_id", "model_kim_id", "accepted", "reason"):
        verdicts[(runner_id, model_id)] = Verdict(accepted, None if accepted else "kim-api", reason)
    todo = [(r, m) for r, m in pairs if (r.kim_id, m.kim_id) not in verdicts]
    if not todo:
        return verdicts
    installed = {item.name for item in kimapi.installed_items() if item.kind != "model-driver"}
    to_create = sorted({m.kim_id for _, m in todo if m.kim_id in installed})
    checks = kimapi.check_models(to_create) if to_create else {}
    new_rows = []
    for runner, model in todo:
        check = checks.get(model.kim_id)
        if check is None:
            # Not cached: building the model later changes the answer.
            verdicts[(runner.kim_id, model.kim_id)] = Verdict(
                False, "kim-api", f"{model.kim_id} is not installed in any KIM API collection")
            continue
        if not check.loads:
            verdict = Verdict(False, "kim-api", f"the KIM API cannot create {model.kim_id}: {check.error}")
        elif not runner.is_check and not check.supports(runner.species):
            held = {s.lower() for s in check.species}
            missing = [s for s in runner.symbols if s.lower() not in held]
            verdict = Verdict(False, "kim-api", f"the KIM API says {model.kim_id} does not support "
                                                f"{', '.join(missing)}")
        else:
            verdict = Verdict(True, None, "the KIM API creates the model and it supports the species")
        verdicts[(runner.kim_id, model.kim_id)] = verdict
        new_rows.append(MatchVerdict(runner_kim_id=runner.kim_id, model_kim_id=model.kim_id,
                                     accepted=verdict.ok, reason=verdict.reason))
    MatchVerdict.objects.bulk_create(new_rows, ignore_conflicts=True, batch_size=2000)
    log.info("KIM API decided %d pairs (%d models created)", len(new_rows), len(to_create))
    return verdicts


# --- Public API --------------------------------------------------------------------------------

def match(runner_item, model: Model, *, authoritative: bool = True) -> Verdict:
    """May this Test or Verification Check run on this Model? The first failed rule says why not."""
    runner, subject = runner_facts(runner_item), model_facts(model)
    verdict = check_rules(runner, subject, installed_api_version())
    if not verdict.ok or not authoritative:
        return verdict
    return _kim_api_verdicts([(runner, subject)])[(runner.kim_id, subject.kim_id)]


class _JSONMemo:
    """Decodes JSON text once per distinct value: 10,000 tests share a few hundred species lists."""

    def __init__(self):
        self.seen = {}

    def species(self, text) -> tuple[frozenset, tuple]:
        try:
            return self.seen[("s", text)]
        except (KeyError, TypeError):
            symbols = tuple(s for s in self.load(text) if isinstance(s, str))
            facts = (_lower_set(symbols), symbols)
            self.seen[("s", text)] = facts
            return facts

    def strings(self, text) -> tuple:
        try:
            return self.seen[("l", text)]
        except (KeyError, TypeError):
            value = tuple(v for v in self.load(text) if isinstance(v, str))
            self.seen[("l", text)] = value
            return value

    @staticmethod
    def load(text) -> list:
        if text is None or text == "":
            return []
        if isinstance(text, str):
            try:
                text = json.loads(text)
            except ValueError:
                return [text]
        return text if isinstance(text, list) else []


def _as_text(field: str):
    # JSON read as text and decoded here once per distinct value (Django would decode every row).
    return Cast(field, TextField())


def _model_candidates(models) -> list[ModelFacts]:
    memo = _JSONMemo()
    rows = models.values_list(
        "pk", "kim_id", "kind", _as_text("species"), "kim_api_version", "source_format",
        "simulator_name", "simulator_compatible_with_standard", KT("metadata__simulator-potential"))
    facts = []
    for pk, kim_id, kind, species, version, fmt, sim, compatible, potential in rows:
        lowered, symbols = memo.species(species)
        facts.append(ModelFacts(pk, kim_id, kind, lowered, version or "", fmt, (sim or "").lower(),
                                bool(compatible), (potential or "").lower(), symbols))
    return facts


def _runner_candidates(tests, checks) -> list[RunnerFacts]:
    memo = _JSONMemo()
    facts = []
    for pk, kim_id, species, version, fmt, matching, sim in tests.values_list(
            "pk", "kim_id", _as_text("species"), "kim_api_version", "source_format",
            _as_text("matching_models"), "simulator_name"):
        lowered, symbols = memo.species(species)
        facts.append(RunnerFacts(pk, kim_id, False, lowered, version or "", fmt,
                                 _matching_values(memo.strings(matching), fmt), (sim or "").lower(),
                                 symbols))
    for pk, kim_id, version, fmt, matching, sim in checks.values_list(
            "pk", "kim_id", "kim_api_version", "source_format",
            _as_text("metadata__matching-models"), KT("metadata__simulator-name")):
        facts.append(RunnerFacts(pk, kim_id, True, frozenset(), version or "", fmt,
                                 _matching_values(memo.strings(matching), fmt), (sim or "").lower()))
    return facts


def model_table(runner_item, *, authoritative: bool = True) -> list[tuple[ModelFacts, Verdict]]:
    """Every candidate model (the latest versions) with its verdict for this runner."""
    runner = runner_facts(runner_item)
    installed = installed_api_version()
    models = Model.objects.latest_versions()
    table = [(m, check_rules(runner, m, installed)) for m in _model_candidates(models)]
    return _confirm(table, lambda m: (runner, m), authoritative)


def runner_table(model: Model, *, authoritative: bool = True, tests=None,
                 checks=None) -> list[tuple[RunnerFacts, Verdict]]:
    """Every candidate Test and Verification Check (default: latest versions) with its verdict."""
    subject = model_facts(model)
    installed = installed_api_version()
    tests = Test.objects.latest_versions() if tests is None else tests
    checks = VerificationCheck.objects.latest_versions() if checks is None else checks
    table = [(r, check_rules(r, subject, installed)) for r in _runner_candidates(tests, checks)]
    return _confirm(table, lambda r: (r, subject), authoritative)


def _confirm(table, pair_of, authoritative: bool):
    if not authoritative:
        return table
    pairs = [pair_of(facts) for facts, verdict in table if verdict.ok]
    answers = _kim_api_verdicts(pairs)
    confirmed = []
    for facts, verdict in table:
        if verdict.ok:
            runner, model = pair_of(facts)
            verdict = answers[(runner.kim_id, model.kim_id)]
        confirmed.append((facts, verdict))
    return confirmed


def matching_models(runner_item, *, authoritative: bool = True) -> list[Model]:
    """The Models this Test or Verification Check runs on (candidates from the database)."""
    table = model_table(runner_item, authoritative=authoritative)
    return list(Model.objects.filter(pk__in=[m.pk for m, v in table if v.ok]).order_by("kim_id"))


def matching_runners(model: Model, *, authoritative: bool = True) -> list:
    """The Tests and Verification Checks that run on this Model, tests first."""
    table = runner_table(model, authoritative=authoritative)
    test_pks = [r.pk for r, v in table if v.ok and not r.is_check]
    check_pks = [r.pk for r, v in table if v.ok and r.is_check]
    return (list(Test.objects.filter(pk__in=test_pks).order_by("kim_id"))
            + list(VerificationCheck.objects.filter(pk__in=check_pks).order_by("kim_id")))


def forget_verdicts(kim_ids: Iterable[str]) -> int:
    """Drop cached KIM API verdicts of items that were rebuilt (their answer may have changed)."""
    kim_ids = list(kim_ids)
    if not kim_ids:
        return 0
    deleted, _ = (MatchVerdict.objects.filter(model_kim_id__in=kim_ids).delete())
    deleted_runner, _ = MatchVerdict.objects.filter(runner_kim_id__in=kim_ids).delete()
    return deleted + deleted_runner


def resolve_partner(text: str):
    """The Test, Verification Check or Model a KIM ID names (latest version without one)."""
    item = kim_obj(text)
    if not isinstance(item, (Test, VerificationCheck, Model)):
        raise PipelineSearchError(f"{item.kim_id} is a {item._meta.verbose_name}, which has no "
                                  "matching partners; name a test, a verification check or a model",
                                  kim_id=text)
    return item
