"""kimgenie: the Tests of a test driver, generated from its ``test_template/`` and ``test_generator.json``.

As OpenKIM's kimgenie: each line of ``test_generator.json`` is one JSON object, the variables of
one Test (``symbol``, ``lattice``, ``kimnum``, ``version``, …; ``TEST_DRIVER_NAME`` is given).
Every ``*.genie`` file of ``test_template/`` is rendered with standard Jinja2 (``{{ }}``,
``{% %}``) in a sandbox whose ``query()`` is this site's query API; a comment
``{# FILENAME = name #}`` names the output file (else the name less ``.genie``). Other files
are copied as they are. The rendered ``kimspec.edn`` names the Test (its ``extended-id``); the
Tests are then imported as any repository is (``repository.importer``).
"""

import json
import re
import secrets
import tempfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

import jinja2
import kim_edn
from django.conf import settings
from jinja2 import StrictUndefined
from jinja2.exceptions import SecurityError, TemplateSyntaxError

from kimsite import config
from repository import edn, kimcodes
from repository.errors import InvalidKIMID, PipelineError
from repository.importer import ImportReport, import_repository
from repository.models import Test, TestDriver
from runner.template.deadline import deadline
from runner.template.sandbox import PipelineSandbox

TEMPLATE_FOLDER = "test_template"
GENERATOR_FILE = "test_generator.json"
GENIE_SUFFIX = ".genie"
_FILENAME_RE = re.compile(r"\{#-?\s*FILENAME\s*=\s*(?P<name>.+?)\s*-?#\}")
_FILENAME_LINE_RE = re.compile(_FILENAME_RE.pattern + r"[ \t]*\n?")


class KimGenieError(PipelineError):
    """A driver's test template or generator cannot make Tests; says which file and line."""


@dataclass
class GeneratedTest:
    """One Test made from one generator line: its KIM ID and its files (relative path → bytes)."""

    kim_id: str
    line: int
    variables: dict
    files: dict[str, bytes] = field(default_factory=dict)
    executables: set[str] = field(default_factory=set)


@dataclass
class GenieReport:
    driver: str
    tests: list[GeneratedTest]
    #: What importing the Tests did; None on a dry run.
    imported: ImportReport | None = None


def _query(params):
    """OpenKIM's query() at generation time, answered from this database (queryapi)."""
    from queryapi.api import query

    try:
        return query(params)
    except PipelineError as exc:
        raise KimGenieError(f"query(): {exc.reason}") from exc


def _environment() -> PipelineSandbox:
    # Standard delimiters: the output files themselves hold the pipeline's @< >@ syntax.
    env = PipelineSandbox(undefined=StrictUndefined, autoescape=False, keep_trailing_newline=True)
    env.filters["json"] = json.dumps
    env.filters["edn"] = kim_edn.dumps
    env.globals["query"] = _query
    return env


def generator_lines(path: Path) -> list[tuple[int, dict]]:
    """(line number, variables) of each non-blank line of ``test_generator.json``."""
    lines = []
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise KimGenieError(f"cannot read {GENERATOR_FILE}: {exc}", path=path) from exc
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            variables = json.loads(line)
        except ValueError as exc:
            raise KimGenieError(f"not a JSON object: {exc}", path=path, line=number) from exc
        if not isinstance(variables, dict):
            raise KimGenieError("each line is one JSON object", path=path, line=number)
        lines.append((number, variables))
    if not lines:
        raise KimGenieError(f"{GENERATOR_FILE} has no line: no Test to generate", path=path)
    return lines


def _normalised(variables: dict, number: int, path: Path, taken: set[str], random_kimnums: bool) -> dict:
    """``kimnum`` as 12 digits (drawn at random when asked), ``version`` as 3 digits."""
    variables = dict(variables)
    kimnum = variables.get("kimnum")
    if kimnum is None:
        if not random_kimnums:
            raise KimGenieError("no kimnum (give one, or --add-random-kimnums)", path=path, line=number)
        kimnum = _random_kimnum(taken)
    kimnum = f"{kimnum:012d}" if isinstance(kimnum, int) else str(kimnum)
    version = variables.get("version", 0)
    version = f"{version:03d}" if isinstance(version, int) else str(version)
    if not re.fullmatch(r"[0-9]{12}", kimnum) or not re.fullmatch(r"[0-9]{3}", version):
        raise KimGenieError(f"kimnum {kimnum!r} must be 12 digits and version {version!r} 3",
                            path=path, line=number)
    taken.add(kimnum)
    return {**variables, "kimnum": kimnum, "version": version}


def _random_kimnum(taken: set[str]) -> str:
    while True:
        kimnum = f"{secrets.randbelow(10**12):012d}"
        if kimnum not in taken and not Test.objects.filter(number=kimnum).exists():
            return kimnum


def _output_name(source: str, template: Path, env, variables: dict) -> str:
    found = _FILENAME_RE.search(source)
    name = template.name[:-len(GENIE_SUFFIX)]
    if found:
        name = env.from_string(found["name"]).render(variables).strip()
    relative = PurePosixPath(name)
    if not name or relative.is_absolute() or ".." in relative.parts:
        raise KimGenieError(f"FILENAME {name!r} is not a file inside the test", path=template)
    return str(relative)


def _render(template: Path, env, variables: dict, number: int) -> tuple[str, str]:
    """(output name, rendered text) of one ``.genie`` file for one generator line."""
    source = template.read_text(encoding="utf-8")
    try:
        with deadline(settings.PIPELINE_RENDER_TIMEOUT, str(template)):
            name = _output_name(source, template, env, variables)
            # The FILENAME comment names the file and is no part of it: its line goes too.
            body = _FILENAME_LINE_RE.sub("", source, count=1)
            return name, env.from_string(body).render(variables)
    except KimGenieError:
        raise
    except PipelineError as exc:
        raise KimGenieError(f"generator line {number}: {exc.reason}", path=template) from exc
    except TemplateSyntaxError as exc:
        raise KimGenieError(f"template syntax: {exc.message}", path=template, line=exc.lineno) from exc
    except (SecurityError, jinja2.TemplateError, ArithmeticError, LookupError, TypeError,
            ValueError) as exc:
        raise KimGenieError(f"generator line {number}: {type(exc).__name__}: {exc}",
                            path=template) from exc


def _test_id(test: GeneratedTest, template_dir: Path) -> str:
    """The Test's KIM ID: the ``extended-id`` of its rendered kimspec.edn, numbered by ``kimnum``."""
    text = test.files.get(config.KIMSPEC_FILE)
    if text is None:
        raise KimGenieError(f"the template makes no {config.KIMSPEC_FILE}", path=template_dir)
    kimspec = edn.loads(text.decode(), path=template_dir / f"{config.KIMSPEC_FILE}{GENIE_SUFFIX}")
    extended_id = kimspec.get("extended-id") if isinstance(kimspec, dict) else None
    try:
        code = kimcodes.parse_kim_code(str(extended_id), leader="TE", require_version=True,
                                       require_name=True)
    except InvalidKIMID as exc:
        raise KimGenieError(f"generator line {test.line}: extended-id: {exc.reason}",
                            path=template_dir) from exc
    if code.number != test.variables["kimnum"]:
        raise KimGenieError(f"generator line {test.line}: extended-id {extended_id} does not carry "
                            f"kimnum {test.variables['kimnum']}", path=template_dir)
    return str(code)


def render_tests(driver: TestDriver, *, add_random_kimnums: bool = False) -> list[GeneratedTest]:
    """Every Test the driver's generator describes, rendered in memory (nothing written)."""
    folder = Path(driver.path)
    template_dir, generator = folder / TEMPLATE_FOLDER, folder / GENERATOR_FILE
    if not template_dir.is_dir():
        raise KimGenieError(f"the driver has no {TEMPLATE_FOLDER}/ folder", path=folder, kim_id=driver.kim_id)
    sources = sorted(p for p in template_dir.rglob("*") if not p.is_dir())
    for source in sources:
        if source.is_symlink():
            raise KimGenieError("a symlink in the test template is refused", path=source)
    env, taken, tests = _environment(), set(), []
    for number, variables in generator_lines(generator):
        variables = _normalised(variables, number, generator, taken, add_random_kimnums)
        variables["TEST_DRIVER_NAME"] = driver.kim_id
        test = GeneratedTest("", number, variables)
        for source in sources:
            relative = str(source.relative_to(template_dir))
            if source.name.endswith(GENIE_SUFFIX):
                name, text = _render(source, env, variables, number)
                relative = str(PurePosixPath(relative).parent / name)
                content = text.encode()
            else:
                content = source.read_bytes()
                if source.stat().st_mode & 0o111:
                    test.executables.add(relative)
            if relative in test.files:
                raise KimGenieError(f"two template files make {relative}", path=source)
            test.files[relative] = content
        test.kim_id = _test_id(test, template_dir)
        tests.append(test)
    seen = {}
    for test in tests:
        if test.kim_id in seen:
            raise KimGenieError(f"generator lines {seen[test.kim_id]} and {test.line} both make "
                                f"{test.kim_id}", path=generator)
        seen[test.kim_id] = test.line
    return tests


def write_test(test: GeneratedTest, root: Path) -> Path:
    """The Test's folder ``root/te/<KIM ID>/`` with its files."""
    folder = root / "te" / test.kim_id
    for relative, content in test.files.items():
        path = folder / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
        path.chmod(0o755 if relative in test.executables else 0o644)
    return folder


def generate_tests(driver_id: str, *, add_random_kimnums: bool = False, dry_run: bool = False) -> GenieReport:
    """Generate a driver's Tests and import them into the repository (``dry_run``: render only)."""
    driver = TestDriver.objects.resolve(driver_id)
    tests = render_tests(driver, add_random_kimnums=add_random_kimnums)
    report = GenieReport(driver.kim_id, tests)
    if dry_run:
        return report
    with tempfile.TemporaryDirectory(prefix="kimgenie-") as staging:
        for test in tests:
            write_test(test, Path(staging))
        report.imported = import_repository(Path(staging))
    if report.imported.rejected:
        reasons = "; ".join(f"{Path(folder).name}: {reason}" for folder, reason in report.imported.rejected)
        raise KimGenieError(f"generated Tests were refused at import: {reasons}", kim_id=driver.kim_id)
    return report
