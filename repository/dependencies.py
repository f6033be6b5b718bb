"""The one reader of a test's dependencies, and the one check of the graph they make.

A test depends on the tests whose results its input reads. They are declared in four places:
``dependencies.edn`` (2020), the 2012 ``@DATA[TE][MO][PR]`` directives of ``pipeline.in``, and
literal ``get_test_result(...)`` / ``query(...)`` references of the 2020 template. The importer
fills ``Test.depends_on`` from ``declared_upstream``, and the runner and the director read the
same function, so a template can never read an upstream result nobody waited for.
"""

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from jinja2 import Environment, nodes
from jinja2.exceptions import TemplateSyntaxError

from kimsite import config
from repository import edn, kimcodes
from repository.errors import (
    DependencyCycle,
    DependencyTooDeep,
    InvalidKIMID,
    PipelineDependencyError,
    PipelineSearchError,
)
from repository.models import Test

#: The subject model of the run, as templates name it (2020 global, 2012 directive).
SUBJECT_NAMES = ("MODELNAME", "@MODELNAME")

# 2012: @DATA[TE_…][MO_…|@MODELNAME][PR_…]; @DATA[RD] and @DATA[TR][PR] read no test's latest result.
_DATA_2012_RE = re.compile(r"@DATA((?:\[[^\]\n]*\]){3})")
# query() filters on the runner by a literal ID or by OpenKIM's usual regex
# "Name__TE_[0-9]{12}" (any lineage of that name), optionally anchored and versioned.
_RUNNER_REGEX_RE = re.compile(
    r"\^?(?P<name>[A-Za-z_][A-Za-z0-9_]*?)__TE_(?:(?P<number>[0-9]{12})|\[0-9\]\{12\})"
    r"(?:_(?:(?P<version>[0-9]{3})|\[0-9\]\{3\}))?\$?"
)
#: query() filter keys that name the runner / the subject (the template answers both spellings).
RUNNER_KEYS = ("meta.runner.kimcode", "meta.test.kimcode")
SUBJECT_KEYS = ("meta.subject.kimcode", "meta.model.kimcode")

#: The KIM template delimiters (KIM-FACTS.md), as jinja2 Environment keyword arguments: the
#: runner's sandbox renders with them, this module parses with them.
TEMPLATE_DELIMITERS = {
    "variable_start_string": "@<", "variable_end_string": ">@",
    "block_start_string": "@[", "block_end_string": "]@",
    "comment_start_string": "@#", "comment_end_string": "#@",
}
# Parsing only, never rendering: no sandbox needed.
_PARSER = Environment(**TEMPLATE_DELIMITERS)


@dataclass(frozen=True)
class Upstream:
    """One upstream pair a test reads.

    ``test``: the test's KIM ID as written (often without version: the latest), or
    ``Name__TE_[0-9]{12}`` for a query() that names the lineage by name only (see resolve_test).
    ``model``: None for the subject model of the run, else a literal model ID.
    """

    test: str
    model: str | None = None


def declared_upstream(folder: Path, source_format: str) -> list[Upstream]:
    """Every upstream pair the test in ``folder`` declares or reads literally, in order, once each.

    Raises PipelineDependencyError (naming the file) when ``dependencies.edn`` is not a list of
    test IDs, and PipelineEDNError when it does not parse. A template that does not parse
    declares nothing here: its render reports the syntax error with its line.
    """
    folder = Path(folder)
    if str(source_format) == "2012":
        found = _from_2012(folder / config.INPUT_FILE)
    else:
        found = _from_dependencies_edn(folder / config.DEPENDENCIES_FILE)
        found += _from_template(folder / config.TEMPLATE_FILE)
    return list(dict.fromkeys(found))


def _from_dependencies_edn(path: Path) -> list[Upstream]:
    if not path.exists():
        return []
    listed = edn.load(path, kim_id=path.parent.name)
    if not isinstance(listed, list):
        raise PipelineDependencyError("dependencies.edn is not an EDN list", path=path,
                                      kim_id=path.parent.name)
    found = []
    for text in listed:
        if not _is_test_id(text):
            raise PipelineDependencyError(f"dependency {text!r} is not a TE KIM ID", path=path,
                                          kim_id=path.parent.name)
        found.append(Upstream(text))
    return found


def _from_2012(path: Path) -> list[Upstream]:
    if not path.exists():
        return []
    source = path.read_text(encoding="utf-8", errors="replace")
    found = []
    for match in _DATA_2012_RE.finditer(source):
        test, model, _ = (part.strip() for part in re.findall(r"\[([^\]]*)\]", match[1]))
        if _is_test_id(test):
            found.append(Upstream(test, _model_text(model)))
    return found


def _model_text(text: str) -> str | None:
    """None for the run's subject, the ID for a literal model; "" when it cannot be known."""
    if text in SUBJECT_NAMES:
        return None
    if isinstance(text, str) and kimcodes.is_kim_code(text) and \
            kimcodes.parse_kim_code(text).leader in ("MO", "SM"):
        return text
    return ""


def _from_template(path: Path) -> list[Upstream]:
    if not path.exists():
        return []
    try:
        tree = _PARSER.parse(path.read_text(encoding="utf-8", errors="replace"))
    except TemplateSyntaxError:
        return []
    found = []
    for call in tree.find_all(nodes.Call):
        if not isinstance(call.node, nodes.Name):
            continue
        if call.node.name == "get_test_result" and len(call.args) >= 2:
            # A computed model argument is "": known only when the template renders.
            pair = (_first_literal(call.args[0]), _first_literal(call.args[1]) or "")
        elif call.node.name == "query" and call.args and isinstance(call.args[0], nodes.Dict):
            pair = _query_pair(call.args[0])
        else:
            continue
        test, model = pair
        model = _model_text(model) if model is not None else None
        # A test or model the template computes is known only when it renders.
        if test is not None and _is_test_id(test) and model != "":
            found.append(Upstream(test, model))
    return found


def _first_literal(node):
    """``"X"`` or ``["X", ...]`` → "X"; ``MODELNAME`` / ``[MODELNAME]`` → "MODELNAME"; else None."""
    if isinstance(node, nodes.List | nodes.Tuple) and node.items:
        node = node.items[0]
    if isinstance(node, nodes.Const) and isinstance(node.value, str):
        return node.value
    if isinstance(node, nodes.Name):
        return node.name
    return None


def _dict_items(node: nodes.Dict) -> dict:
    return {pair.key.value: pair.value for pair in node.items
            if isinstance(pair.key, nodes.Const) and isinstance(pair.key.value, str)}


def _query_pair(params: nodes.Dict) -> tuple[str | None, str | None]:
    """(test, model) a query() names in its filter; model None when the filter names no subject."""
    filters = _dict_items(params).get("query")
    if not isinstance(filters, nodes.Dict):
        return None, None
    filters = _dict_items(filters)
    test = model = None
    for key in RUNNER_KEYS:
        if key in filters:
            test = _runner_filter(filters[key])
    for key in SUBJECT_KEYS:
        if key in filters:
            model = _first_literal(filters[key]) or ""
    return test, model


def _runner_filter(node) -> str | None:
    if isinstance(node, nodes.Dict):
        node = _dict_items(node).get("$regex")
        if not (isinstance(node, nodes.Const) and isinstance(node.value, str)):
            return None
        match = _RUNNER_REGEX_RE.fullmatch(node.value)
        if match is None:
            return None
        if match["number"] is None:
            return f"{match['name']}__TE_[0-9]{{12}}"
        version = f"_{match['version']}" if match["version"] else ""
        return f"{match['name']}__TE_{match['number']}{version}"
    if isinstance(node, nodes.Const) and isinstance(node.value, str):
        return node.value
    return None


def _is_test_id(text) -> bool:
    if not isinstance(text, str):
        return False
    if _name_only(text) is not None:
        return True
    try:
        return kimcodes.parse_kim_code(text).leader == "TE"
    except InvalidKIMID:
        return False


def _name_only(text: str) -> str | None:
    """The name of a ``Name__TE_[0-9]{12}`` reference, else None."""
    return text[:-len("__TE_[0-9]{12}")] if text.endswith("__TE_[0-9]{12}") else None


def resolve_test(text: str):
    """The Test an Upstream's ``test`` means: that version, or the latest of its lineage.

    A name-only reference means the latest version of the newest lineage of that name.
    Raises PipelineSearchError (or InvalidKIMID) when nothing answers.
    """
    name = _name_only(text)
    if name is None:
        return Test.objects.resolve(text)
    found = Test.objects.filter(name=name).order_by("-created_at", "-version").first()
    if found is None:
        raise PipelineSearchError(f"no test is named {name!r}", kim_id=text)
    return Test.objects.lineage(found.code).order_by("-version").first()


def check_graph(test, upstream_of: Callable[[object], Iterable[object]], *, bound: int) -> None:
    """Refuse a cycle or a chain of more than ``bound`` edges above ``test``, naming the tests.

    ``upstream_of(t)`` gives the tests ``t`` depends on. Nodes are compared by lineage (number):
    a new version that depends on a test depending on its old version closes a cycle.
    Raises DependencyCycle(cycle) or DependencyTooDeep(chain, bound).
    """
    edges: dict[object, list] = {}
    #: number → the longest chain of KIM IDs from that test upward (itself first). Kept so a
    #: second, longer path into a test already seen is still measured against the bound.
    longest: dict[str, list[str]] = {}

    def too_deep(chain: list[str]) -> None:
        if len(chain) - 1 > bound:  # edges, not tests
            raise DependencyTooDeep(chain, bound)

    def visit(node, path: list) -> list[str]:
        too_deep([t.kim_id for t in path])
        if node.number not in longest:
            key = node.pk if node.pk is not None else id(node)
            if key not in edges:
                edges[key] = list(upstream_of(node))
            above: list[str] = []
            for upstream in edges[key]:
                numbers = [t.number for t in path]
                if upstream.number in numbers:
                    cycle = path[numbers.index(upstream.number):] + [upstream]
                    raise DependencyCycle([t.kim_id for t in cycle])
                chain = visit(upstream, path + [upstream])
                if len(chain) > len(above):
                    above = chain
            longest[node.number] = [node.kim_id, *above]
        too_deep([t.kim_id for t in path[:-1]] + longest[node.number])
        return longest[node.number]

    visit(test, [test])
