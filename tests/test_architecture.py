"""The layering the folder tree shows, checked on the source itself (AST, no imports run).

* ``repository/`` (what exists) never imports ``runner/`` (how it runs), except the one lazy
  import in ``RunsOnModels.__call__`` (the seed's ``test(model)``).
* No import cycle among the modules of one app, counting imports inside functions too: a
  lazy import hides a cycle from Python, not from the design.
* No module over 400 lines outside migrations.
"""

import ast
from pathlib import Path

import pytest

PROJECT_DIR = Path(__file__).resolve().parent.parent
APPS = ("kimsite", "repository", "runner", "queryapi", "public")
SIZED_FOLDERS = ("kimsite", "repository", "runner", "queryapi", "public", "tests", "bench",
                 "examples")
MAX_LINES = 400

#: (module, enclosing class.function) of the imports of runner that repository may make.
ALLOWED_RUNNER_IMPORTS = {("repository.models.items", "RunsOnModels.__call__")}


def module_name(path: Path, root: Path = PROJECT_DIR) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def python_files(folder: str):
    return sorted(p for p in (PROJECT_DIR / folder).rglob("*.py")
                  if "__pycache__" not in p.parts)


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def imports_of(path: Path, root: Path = PROJECT_DIR) -> list[tuple[str, str]]:
    """(imported module, enclosing Class.function or "") of every import the module runs.

    ``from a import b`` yields ``a.b`` when that is a module of the project, else ``a``.
    Imports under ``if TYPE_CHECKING:`` never run and are left out.
    """
    tree = ast.parse(path.read_text(), filename=str(path))
    name = module_name(path, root)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: list[tuple[str, str]] = []

    def visit(node, scope: list[str]) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and _is_type_checking(child):
                for rest in child.orelse:
                    visit(ast.Module(body=[rest], type_ignores=[]), scope)
                continue
            where = ".".join(scope)
            if isinstance(child, ast.Import):
                found.extend((alias.name, where) for alias in child.names)
            elif isinstance(child, ast.ImportFrom):
                base = child.module or ""
                if child.level:
                    anchor = package.split(".")
                    anchor = anchor[:len(anchor) - (child.level - 1)]
                    base = ".".join(anchor + ([base] if base else []))
                for alias in child.names:
                    candidate = f"{base}.{alias.name}"
                    found.append((candidate if _is_module(candidate, root) else base, where))
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                visit(child, scope + [child.name])
            else:
                visit(child, scope)

    visit(tree, [])
    return found


def _is_module(name: str, root: Path) -> bool:
    path = root.joinpath(*name.split("."))
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def import_graph(app: str) -> dict[str, set[str]]:
    """Module → the modules of the same app it imports (anywhere in its body)."""
    graph: dict[str, set[str]] = {}
    for path in python_files(app):
        graph[module_name(path)] = {
            target for target, _ in imports_of(path)
            if (target == app or target.startswith(app + ".")) and target != module_name(path)
        }
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of ``graph`` as [a, b, …, a], or None."""
    state: dict[str, str] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = "open"
        stack.append(node)
        for target in sorted(graph.get(node, ())):
            if state.get(target) == "open":
                return stack[stack.index(target):] + [target]
            if target not in state:
                cycle = visit(target)
                if cycle:
                    return cycle
        stack.pop()
        state[node] = "done"
        return None

    for node in sorted(graph):
        if node not in state:
            cycle = visit(node)
            if cycle:
                return cycle
    return None


# -- the checkers checked: each must catch what it is for -------------------------------------


def test_find_cycle_names_a_cycle_and_accepts_a_tree():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b", "c"}, "b": {"c"}, "c": set()}) is None


def test_imports_of_sees_function_level_and_relative_imports(tmp_path):
    package = tmp_path / "app"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "b.py").write_text("")
    (package / "a.py").write_text(
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    import app.never\n"
        "class K:\n    def f(self):\n        from . import b\n        from app.b import thing\n")
    assert imports_of(package / "a.py", tmp_path) == [
        ("typing", ""), ("app.b", "K.f"), ("app.b", "K.f")]


# -- the project --------------------------------------------------------------------------------


def test_repository_never_imports_runner_but_in_the_one_commented_call():
    offending, allowed_seen = [], set()
    for path in python_files("repository"):
        module = module_name(path)
        for target, where in imports_of(path):
            if target != "runner" and not target.startswith("runner."):
                continue
            if (module, where) in ALLOWED_RUNNER_IMPORTS:
                allowed_seen.add((module, where))
            else:
                offending.append(f"{module} ({where or 'module level'}) imports {target}")
    assert offending == [], "repository/ must not import runner/:\n" + "\n".join(offending)
    assert allowed_seen == ALLOWED_RUNNER_IMPORTS, "the allowed import moved: update this test"


def _imports_of_app(app: str, prefixes: tuple[str, ...]) -> list[str]:
    return [f"{module_name(path)} ({where or 'module level'}) imports {target}"
            for path in python_files(app) for target, where in imports_of(path)
            if any(target == p or target.startswith(p + ".") for p in prefixes)]


def test_queryapi_reads_the_repository_and_never_imports_the_runner():
    # runner's template query() calls queryapi; the arrow goes one way.
    assert _imports_of_app("queryapi", ("runner",)) == []
    assert _imports_of_app("repository", ("queryapi",)) == []


def test_nothing_imports_public_and_public_imports_only_repository_and_runner():
    """public/ (the site's pages) sits on top: it reads repository and runner, no one reads it
    (kimsite/urls.py only names its URLconf as text)."""
    offending = []
    for folder in ("kimsite", "repository", "runner", "queryapi"):
        for path in python_files(folder):
            offending += [f"{module_name(path)} imports {target}" for target, _ in imports_of(path)
                          if target == "public" or target.startswith("public.")]
    for path in python_files("public"):
        offending += [f"{module_name(path)} imports {target}" for target, _ in imports_of(path)
                      if target.split(".")[0] == "kimsite" and target != "kimsite.config"]
    assert offending == [], "\n".join(offending)


@pytest.mark.parametrize("app", APPS)
def test_no_import_cycle_inside_an_app(app):
    cycle = find_cycle(import_graph(app))
    assert cycle is None, f"import cycle in {app}: {' → '.join(cycle)}"


def _sized_modules():
    for folder in SIZED_FOLDERS:
        for path in sorted((PROJECT_DIR / folder).rglob("*")):
            if not path.is_file() or "migrations" in path.parts or "__pycache__" in path.parts:
                continue
            if path.suffix == ".py" or (path.suffix == "" and _is_python_script(path)):
                yield path


def _is_python_script(path: Path) -> bool:
    """An executable Python file without .py (a KIM runner or driver executable)."""
    with open(path, "rb") as handle:
        first = handle.readline(200)
    return first.startswith(b"#!") and b"python" in first


def test_no_module_over_400_lines_outside_migrations():
    too_long = []
    for path in _sized_modules():
        lines = len(path.read_text(errors="replace").splitlines())
        if lines > MAX_LINES:
            too_long.append(f"{path.relative_to(PROJECT_DIR)}: {lines} lines")
    assert too_long == [], f"modules over {MAX_LINES} lines (split by job):\n" + "\n".join(too_long)
