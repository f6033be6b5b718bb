"""Render a runner's input template (2020 ``pipeline.stdin.tpl`` or 2012 ``pipeline.in``) for one model.

One jinja2 sandbox serves both syntaxes: 2012 directives are first translated into jinja2
expressions over the same globals, then rendered once.
"""

import contextlib
import json
import logging
import re
import signal
import threading
import traceback
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import jinja2
import kim_edn
from jinja2 import StrictUndefined, nodes
from jinja2.exceptions import SecurityError, TemplateSyntaxError
from jinja2.sandbox import ImmutableSandboxedEnvironment

from kimsite import config
from repository import kimcodes, storage
from repository.errors import (
    InvalidKIMID,
    PipelineDataMissing,
    PipelineError,
    PipelineSearchError,
    PipelineTemplateError,
)
from runner import build

logger = logging.getLogger("pipeline.template")

#: Longest string or list a template may build with ``*`` (a memory bomb is a template fault).
MAX_SEQUENCE = 10_000_000
#: Largest exponent a template may use with ``**`` (huge integers are a CPU bomb).
MAX_EXPONENT = 1_000
#: Seconds a render may take (a template looping for ever is a template fault).
RENDER_TIMEOUT = 30
#: Instance keys that are not property keys.
INSTANCE_META_KEYS = {"property-id", "instance-id", "meta"}


class PipelineSandbox(ImmutableSandboxedEnvironment):
    """The sandbox plus limits on ``*`` and ``**``, which the stock sandbox lets run unbounded."""

    intercepted_binops = frozenset(["*", "**"])

    def call_binop(self, context, operator, left, right):
        if operator == "*":
            for seq, count in ((left, right), (right, left)):
                if isinstance(seq, (str, list, tuple)) and isinstance(count, int):
                    if len(seq) * count > MAX_SEQUENCE:
                        raise SecurityError(f"a sequence longer than {MAX_SEQUENCE} is refused")
        if operator == "**" and isinstance(right, (int, float)) and abs(right) > MAX_EXPONENT:
            raise SecurityError(f"an exponent above {MAX_EXPONENT} is refused")
        return super().call_binop(context, operator, left, right)


def _make_environment() -> PipelineSandbox:
    # No loader: {% include %}, {% import %} and {% extends %} cannot reach any file.
    env = PipelineSandbox(
        variable_start_string="@<", variable_end_string=">@",
        block_start_string="@[", block_end_string="]@",
        comment_start_string="@#", comment_end_string="#@",
        undefined=StrictUndefined, autoescape=False, keep_trailing_newline=True,
    )
    env.filters["json"] = lambda value: json.dumps(value)
    env.filters["edn"] = lambda value: kim_edn.dumps(value)
    env.filters["stripversion"] = kimcodes.strip_version
    return env


ENVIRONMENT = _make_environment()


@dataclass
class RenderedInput:
    """A rendered input and the results (KIM IDs) the template read to make it."""

    text: str
    upstream: list[str] = field(default_factory=list)


# ---------------------------------------------------------------------------------------------
# Units


@lru_cache(maxsize=1)
def _unit_registry():
    # pint understands the GNU units names KIM uses (angstrom, eV, GPa, eV/angstrom^3, bar, K).
    import pint

    return pint.UnitRegistry()


def convert(value, from_unit, to_unit):
    """``value`` (a number or nested list of numbers) from one unit to another; ``"SI"`` = base units."""
    if from_unit is None or to_unit is None or from_unit == to_unit:
        return value
    if isinstance(value, (list, tuple)):
        return [convert(v, from_unit, to_unit) for v in value]
    registry = _unit_registry()
    try:
        quantity = registry.Quantity(float(value), from_unit)
        converted = quantity.to_base_units() if to_unit == "SI" else quantity.to(to_unit)
    except Exception as exc:  # pint raises several unrelated classes for bad units
        raise PipelineTemplateError(f"cannot convert {value!r} from {from_unit!r} to {to_unit!r}: "
                                    f"{exc}") from exc
    return float(converted.magnitude)


# ---------------------------------------------------------------------------------------------
# Reading items and results for the globals


def _resolve_item(model_class, text: str, what: str):
    try:
        return model_class.objects.resolve(str(text))
    except InvalidKIMID as exc:
        raise PipelineTemplateError(f"{what}: {exc.reason}") from exc


def _latest_result(test, model):
    from repository.models import TestResult

    return (TestResult.objects.filter(test=test, model=model).current()
            .order_by("-created_at").first())


def _pair_result(test_text: str, model_text: str):
    """The current result of (test, model), or PipelineDataMissing naming the pair."""
    from repository.models import Model, Test

    try:
        test = _resolve_item(Test, test_text, "test")
        model = _resolve_item(Model, model_text, "model")
    except PipelineSearchError as exc:
        raise PipelineDataMissing(f"needs the result of ({test_text}, {model_text}), but "
                                  f"{exc.reason}", kim_id=exc.kim_id) from exc
    result = _latest_result(test, model)
    if result is None:
        raise PipelineDataMissing(f"needs the result of ({test.kim_id}, {model.kim_id}), "
                                  "which does not exist yet", kim_id=test.kim_id)
    return result


def _property_matches(instance: dict, prop: str) -> bool:
    property_id = str(instance.get("property-id", ""))
    if property_id == prop:
        return True
    if "property/" in prop:
        return False
    if kimcodes.is_kim_code(prop):
        # A PR code: compare lineages (2012 results carry PR codes), or through the Property row.
        code = kimcodes.parse_kim_code(prop)
        if kimcodes.is_kim_code(property_id):
            return kimcodes.parse_kim_code(property_id).lineage == code.lineage
        from repository.models import Property

        row = Property.objects.filter(number=code.number).order_by("-version").first()
        return row is not None and row.property_id == property_id
    return property_id.rsplit("property/", 1)[-1] == prop


def _instances_of(result, prop: str) -> list[dict]:
    found = [i for i in (result.instances or []) if _property_matches(i, prop)]
    return sorted(found, key=lambda i: i.get("instance-id", 0))


def _simple_value(instance: dict):
    """The value of a one-key instance (2012 style), else {key: value}."""
    keys = [k for k in instance if k not in INSTANCE_META_KEYS]
    values = {k: (instance[k].get("source-value") if isinstance(instance[k], dict) else instance[k])
              for k in keys}
    return values[keys[0]] if len(keys) == 1 else values


def _kim_ids(argument, what: str) -> list[str]:
    if isinstance(argument, str):
        argument = [argument]
    if not isinstance(argument, (list, tuple)) or not argument:
        raise PipelineTemplateError(f"{what} must be a list of KIM IDs, not {argument!r}")
    return [str(a) for a in argument]


class _RenderState:
    """The globals of one render, and what they read (the upstream results used)."""

    def __init__(self, runner_item, model):
        self.runner_item = runner_item
        self.model = model
        self.upstream: list[str] = []

    def used(self, result) -> None:
        if result.kim_id not in self.upstream:
            self.upstream.append(result.kim_id)

    def path(self, kim_id, executable: bool = False) -> str:
        """Absolute path of an item's folder in the repository (2012: its executable if it has one).

        An item built from source (a test driver with a CMakeLists.txt or Makefile) is given as
        its built copy in the pipeline's build area, the only place outside the repository.
        """
        text = str(kim_id)
        try:
            code = kimcodes.parse_kim_code(text)
        except InvalidKIMID as exc:
            raise PipelineTemplateError(f"path(): {exc.reason}") from exc
        if code.leader in kimcodes.RESULT_LEADERS:
            raise PipelineTemplateError(f"path(): {text} is a result, not an item")
        root = storage.repository_root().resolve()
        kind = root / code.leader.lower()
        candidates = [c for c in sorted(kind.glob(f"*{code.short}_[0-9][0-9][0-9]"))
                      if kimcodes.is_kim_code(c.name)
                      and kimcodes.parse_kim_code(c.name).lineage == code.lineage
                      and (code.name is None or kimcodes.parse_kim_code(c.name).name == code.name)
                      and (code.version is None or kimcodes.parse_kim_code(c.name).version == code.version)]
        if not candidates:
            raise PipelineTemplateError(f"path(): {text} has no folder in the repository")
        folder = max(candidates, key=lambda c: kimcodes.parse_kim_code(c.name).version)
        resolved = folder.resolve()
        # A symlinked item folder must not lead out of the repository.
        if not resolved.is_relative_to(root):
            raise PipelineTemplateError(f"path(): {text} resolves outside the repository")
        if not resolved.is_dir():
            raise PipelineTemplateError(f"path(): {text} has no folder in the repository")
        # A driver built from source is used from the pipeline's build area (its built copy).
        built = build.built_folder(folder.name)
        if built is not None:
            resolved = built.resolve()
            if not resolved.is_relative_to(build.build_area().resolve()):
                raise PipelineTemplateError(f"path(): the build of {text} resolves outside the build area")
        program = resolved / folder.name
        if executable and program.is_file():
            return str(program)
        return str(resolved)

    def get_test_result(self, test, model, prop, keys, units=None):
        """kim_query.get_test_result answered from this database: one inner list per instance."""
        tests, models_ = _kim_ids(test, "test"), _kim_ids(model, "model")
        props = _kim_ids(prop, "prop") if not isinstance(prop, str) else [prop]
        keys = [keys] if isinstance(keys, str) else list(keys)
        units = [None] * len(keys) if units is None else ([units] if isinstance(units, str) else list(units))
        if len(units) != len(keys):
            raise PipelineTemplateError(f"get_test_result(): {len(keys)} keys but {len(units)} units")
        result = _pair_result(tests[0], models_[0])
        self.used(result)
        rows = []
        for instance in _instances_of(result, props[0]):
            row = []
            for key, unit in zip(keys, units, strict=True):
                if key not in instance:
                    raise PipelineTemplateError(f"get_test_result(): {result.kim_id} has no key "
                                                f"{key!r} in {props[0]}")
                entry = instance[key]
                value = entry.get("source-value")
                if unit is not None:
                    value = convert(value, entry.get("source-unit"), unit)
                row.append(value)
            rows.append(row)
        return rows

    def query(self, params):
        """A small subset of the OpenKIM query API over this database's results (database "data")."""
        from repository.models import TestResult

        params = dict(params or {})
        if params.get("database", "data") != "data":
            raise PipelineTemplateError("query(): only database \"data\" is answered here")
        filters = dict(params.get("query") or {})
        rows = TestResult.objects.current().select_related("test", "model").order_by("-created_at")
        prop = None
        for key, wanted in filters.items():
            if key == "property-id":
                prop = str(wanted)
            elif key in ("meta.runner.kimcode", "meta.test.kimcode"):
                code = kimcodes.parse_kim_code(str(wanted))
                rows = rows.filter(test__number=code.number)
                if code.version is not None:
                    rows = rows.filter(test__version=code.version)
            elif key in ("meta.subject.kimcode", "meta.model.kimcode"):
                code = kimcodes.parse_kim_code(str(wanted))
                rows = rows.filter(model__number=code.number)
                if code.version is not None:
                    rows = rows.filter(model__version=code.version)
            else:
                raise PipelineTemplateError(f"query(): filter {key!r} is not supported here")
        project = list(params.get("project") or [])
        limit = int(params.get("limit") or 0)
        found = []
        for result in rows:
            instances = [i for i in result.instances if prop is None or _property_matches(i, prop)]
            if instances:
                self.used(result)
            for instance in instances:
                found.append(self._project(instance, result, project))
                if limit and len(found) >= limit:
                    return found
        return found

    @staticmethod
    def _project(instance: dict, result, project: list):
        meta = {"meta.runner.kimcode": result.test.kim_id, "meta.subject.kimcode": result.model.kim_id,
                "meta.uuid": result.kim_id}
        if not project:
            return {**instance, "meta": {"runner": {"kimcode": result.test.kim_id},
                                         "subject": {"kimcode": result.model.kim_id},
                                         "uuid": result.kim_id}}
        row = []
        for name in project:
            if name in meta:
                row.append(meta[name])
                continue
            key, _, part = name.partition(".")
            entry = instance.get(key)
            if not isinstance(entry, dict):
                row.append(entry)
            elif part == "si-value":
                row.append(convert(entry.get("source-value"), entry.get("source-unit"), "SI"))
            else:
                row.append(entry.get(part or "source-value"))
        return row[0] if len(row) == 1 else row

    def kim2012_data(self, first, second=None, third=None):
        """The target of the 2012 ``@DATA[RD]``, ``@DATA[TR][PR]`` and ``@DATA[TE][MO][PR]``."""
        from repository.models import ReferenceDatum, TestResult

        if third is not None:
            result, prop = _pair_result(first, second), third
        elif second is not None:
            code = kimcodes.parse_kim_code(first, leader="TR")
            result = TestResult.objects.filter(kim_id__contains=code.short).first()
            if result is None:
                raise PipelineDataMissing(f"@DATA: no test result {first}", kim_id=first)
            prop = second
        else:
            try:
                datum = _resolve_item(ReferenceDatum, first, "@DATA")
            except PipelineSearchError as exc:
                raise PipelineDataMissing(f"@DATA: {exc.reason}", kim_id=first) from exc
            values = [_simple_value(i) for i in datum.data]
            return values[0] if len(values) == 1 else values
        self.used(result)
        values = [_simple_value(i) for i in _instances_of(result, prop)]
        if not values:
            # As in 2012: a missing property of the pair's result is missing data.
            raise PipelineDataMissing(f"@DATA: result {result.kim_id} has no property {prop}",
                                      kim_id=result.kim_id)
        return values[0] if len(values) == 1 else values

    def globals(self) -> dict:
        return {
            "MODELNAME": self.model.kim_id,
            "TESTNAME": self.runner_item.kim_id,
            "path": self.path,
            "query": self.query,
            "get_test_result": self.get_test_result,
            "convert": convert,
            "kim2012_data": self.kim2012_data,
        }


# ---------------------------------------------------------------------------------------------
# 2012 directives → jinja2

_DIRECTIVE_2012_RE = re.compile(
    r"@(?P<name>MODELNAME|TESTNAME)\b"
    r"|@PATH\[(?P<path>[^\]\n]*)\]"
    r"|@DATA(?P<data>(?:\[[^\]\n]*\]){1,3})"
    r"|@FILE\[[^\]\n]*\]"
)
_JINJA_START_RE = re.compile(r"@[<\[#]")


def _argument_2012(text: str, directive: str, line: int, filename: str) -> str:
    text = text.strip()
    if text in ("@MODELNAME", "@TESTNAME"):
        return text[1:]
    if not kimcodes.is_kim_code(text):
        raise PipelineTemplateError(f"{directive}: {text!r} is not a KIM ID", path=filename, line=line)
    return json.dumps(text)


def translate_2012(source: str, filename: str = config.INPUT_FILE) -> str:
    """A 2012 ``pipeline.in`` as a jinja2 template of this module's syntax (same line numbers)."""
    pieces, position = [], 0

    def literal(text: str) -> None:
        if _JINJA_START_RE.search(text):
            if "endraw" in text:
                raise PipelineTemplateError("text that looks like template syntax cannot be kept",
                                            path=filename, line=source.count("\n", 0, position) + 1)
            pieces.append(f"@[ raw ]@{text}@[ endraw ]@")
        else:
            pieces.append(text)

    for match in _DIRECTIVE_2012_RE.finditer(source):
        literal(source[position:match.start()])
        position = match.end()
        line = source.count("\n", 0, match.start()) + 1
        if match["name"]:
            pieces.append(f"@< {match['name']} >@")
        elif match["path"] is not None:
            argument = _argument_2012(match["path"], "@PATH", line, filename)
            pieces.append(f"@< path({argument}, executable=True) >@")
        elif match["data"]:
            parts = re.findall(r"\[([^\]]*)\]", match["data"])
            arguments = ", ".join(_argument_2012(p, "@DATA", line, filename) for p in parts)
            pieces.append(f"@< kim2012_data({arguments}) >@")
        else:
            # @FILE[...] marks a file in the results, not input: it passes through as text.
            literal(match.group(0))
    literal(source[position:])
    return "".join(pieces)


# ---------------------------------------------------------------------------------------------
# Rendering


def template_path(runner_item) -> Path:
    name = config.INPUT_FILE if runner_item.source_format == "2012" else config.TEMPLATE_FILE
    return Path(runner_item.path) / name


def _line_of(exc: BaseException, filename: str) -> int | None:
    line = getattr(exc, "lineno", None)
    for frame, lineno in traceback.walk_tb(exc.__traceback__):
        if frame.f_code.co_filename == filename:
            line = lineno
    return line


class RenderTimeout(PipelineTemplateError):
    """Rendering ran past RENDER_TIMEOUT (an endless loop in a template)."""


@contextlib.contextmanager
def _deadline(seconds: float, filename: str):
    """Interrupt a render that loops for ever; only the main thread can take SIGALRM."""
    if threading.current_thread() is not threading.main_thread() or seconds <= 0:
        yield
        return

    def expire(signum, frame):
        raise RenderTimeout(f"rendering took longer than {seconds} s", path=filename)

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def render_text(source: str, runner_item, model, *, syntax: str = "2020",
                filename: str = "<template>") -> RenderedInput:
    """Render template text for (runner_item, model); ``syntax`` "2012" translates directives first."""
    state = _RenderState(runner_item, model)
    try:
        text = translate_2012(source, filename) if syntax == "2012" else source
        code = ENVIRONMENT.compile(text, name=filename, filename=filename)
        template = ENVIRONMENT.template_class.from_code(ENVIRONMENT, code, ENVIRONMENT.make_globals(None))
        with _deadline(RENDER_TIMEOUT, filename):
            rendered = template.render(state.globals())
    except PipelineDataMissing:
        raise
    except PipelineTemplateError as exc:
        if exc.line is None:
            raise PipelineTemplateError(exc.reason, path=filename, kim_id=exc.kim_id,
                                        line=_line_of(exc, filename)) from exc
        raise
    except TemplateSyntaxError as exc:
        raise PipelineTemplateError(f"template syntax: {exc.message}", path=filename,
                                    line=exc.lineno) from exc
    except SecurityError as exc:
        raise PipelineTemplateError(f"refused by the sandbox: {exc}", path=filename,
                                    line=_line_of(exc, filename)) from exc
    except (PipelineError, jinja2.TemplateError, ArithmeticError, LookupError, TypeError,
            ValueError, AttributeError, RecursionError, OverflowError) as exc:
        reason = getattr(exc, "reason", None) or f"{type(exc).__name__}: {exc}"
        raise PipelineTemplateError(reason, path=filename, line=_line_of(exc, filename)) from exc
    logger.debug("rendered %s for %s × %s (%d upstream)", filename, runner_item.kim_id,
                 model.kim_id, len(state.upstream))
    return RenderedInput(rendered, state.upstream)


def render_input(runner_item, model) -> RenderedInput:
    """The rendered input of ``runner_item`` (a Test or VerificationCheck) for ``model``."""
    path = template_path(runner_item)
    try:
        source = path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise PipelineTemplateError(f"the input template {path.name} is missing", path=path,
                                    kim_id=runner_item.kim_id) from exc
    except UnicodeDecodeError as exc:
        raise PipelineTemplateError(f"the input template is not UTF-8: {exc}", path=path,
                                    kim_id=runner_item.kim_id) from exc
    syntax = "2012" if runner_item.source_format == "2012" else "2020"
    return render_text(source, runner_item, model, syntax=syntax, filename=str(path))


# ---------------------------------------------------------------------------------------------
# Dependencies


def _const_ids(node) -> list[str] | None:
    if isinstance(node, nodes.Const) and isinstance(node.value, str):
        return [node.value]
    if isinstance(node, (nodes.List, nodes.Tuple)) and node.items:
        first = node.items[0]
        if isinstance(first, nodes.Const) and isinstance(first.value, str):
            return [first.value]
        if isinstance(first, nodes.Name):
            return [f"@{first.name}"]
    if isinstance(node, nodes.Name):
        return [f"@{node.name}"]
    return None


def _declared_pairs(runner_item, model) -> list[tuple[str, str]]:
    """(test ID, model ID) texts a template names, before resolving them."""
    names = {"@MODELNAME": model.kim_id, "@TESTNAME": runner_item.kim_id}
    pairs = []
    folder = Path(runner_item.path)
    if runner_item.source_format == "2012":
        path = folder / config.INPUT_FILE
        source = path.read_text(encoding="utf-8", errors="replace") if path.exists() else ""
        for match in _DIRECTIVE_2012_RE.finditer(source):
            parts = re.findall(r"\[([^\]]*)\]", match["data"] or "")
            if len(parts) == 3:
                pairs.append((names.get(parts[0].strip(), parts[0].strip()),
                              names.get(parts[1].strip(), parts[1].strip())))
        return pairs
    dependencies = folder / config.DEPENDENCIES_FILE
    if dependencies.exists():
        listed = kim_edn.load(str(dependencies))
        pairs += [(str(test_id), model.kim_id) for test_id in (listed or [])]
    path = folder / config.TEMPLATE_FILE
    if path.exists():
        try:
            tree = ENVIRONMENT.parse(path.read_text(encoding="utf-8"))
        except TemplateSyntaxError:
            return pairs  # render_input reports the syntax error with its line
        for call in tree.find_all(nodes.Call):
            if isinstance(call.node, nodes.Name) and call.node.name == "get_test_result" and len(call.args) >= 2:
                tests, subjects = _const_ids(call.args[0]), _const_ids(call.args[1])
                if tests and subjects:
                    pairs.append((names.get(tests[0], tests[0]), names.get(subjects[0], subjects[0])))
    return pairs


def required_upstream(runner_item, model) -> list[tuple]:
    """(Test, Model) pairs whose results ``runner_item``'s input needs for ``model``.

    From ``dependencies.edn``, the test's ``depends_on``, literal ``get_test_result`` calls and
    2012 ``@DATA[TE][MO][PR]``. A named test that is not in the database is PipelineDataMissing.
    """
    from repository.models import Model, Test

    pairs = _declared_pairs(runner_item, model)
    if isinstance(runner_item, Test) and runner_item.pk:
        pairs += [(upstream.kim_id, model.kim_id) for upstream in runner_item.depends_on.all()]
    found, seen = [], set()
    for test_text, model_text in pairs:
        if test_text.startswith("@") or model_text.startswith("@"):
            continue  # a variable the template computes: only the render can tell
        try:
            test = Test.objects.resolve(test_text)
            subject = Model.objects.resolve(model_text)
        except (PipelineSearchError, InvalidKIMID) as exc:
            raise PipelineDataMissing(f"{runner_item.kim_id} depends on ({test_text}, {model_text}), "
                                      f"but {getattr(exc, 'reason', exc)}", kim_id=runner_item.kim_id) from exc
        if (test.pk, subject.pk) not in seen:
            seen.add((test.pk, subject.pk))
            found.append((test, subject))
    return found


def missing_upstream(runner_item, model) -> list[tuple]:
    """The required pairs that have no current result yet."""
    return [(test, subject) for test, subject in required_upstream(runner_item, model)
            if _latest_result(test, subject) is None]


__all__ = ["RenderedInput", "convert", "render_input", "render_text", "required_upstream",
           "missing_upstream", "translate_2012", "ENVIRONMENT"]
