"""The globals of one render (``path``, ``query``, ``get_test_result``, ``kim2012_data``, …) and
the upstream results they read, recorded as the run's provenance."""

from pathlib import Path

from django.db.models import Exists, OuterRef

from kimsite import config
from queryapi import api
from repository import edn, kimcodes, storage
from repository.errors import (
    InvalidKIMID,
    PipelineDataMissing,
    PipelineError,
    PipelineSearchError,
    PipelineTemplateError,
)
from repository.models import MODEL_FOR_LEADER, Outcome, ReferenceDatum
from runner import build
from runner.models import Build
from runner.template.lookups import (
    instances_of,
    pair_result,
    resolve_item,
    result_by_id,
    simple_value,
)
from runner.template.units import convert


def _kim_ids(argument, what: str) -> list[str]:
    if isinstance(argument, str):
        argument = [argument]
    if not isinstance(argument, (list, tuple)) or not argument:
        raise PipelineTemplateError(f"{what} must be a list of KIM IDs, not {argument!r}")
    return [str(a) for a in argument]


def _not_imported(root: Path, code, text: str) -> str:
    """Why ``path()`` has no item for ``text``: a folder with no row (rejected at import, or
    not imported yet), or nothing of that code at all. Only on the refusal path: a glob."""
    kind = root / code.leader.lower()
    folders = sorted(c.name for c in kind.glob(f"*{code.short}_[0-9][0-9][0-9]")
                     if kimcodes.is_kim_code(c.name)
                     and kimcodes.parse_kim_code(c.name).lineage == code.lineage)
    if folders:
        return (f"path(): {text} is not imported: its folder {folders[-1]} is in the repository "
                "but no item of that code is in the database (rejected by importrepo, or not "
                "imported yet)")
    return f"path(): {text} is not imported: no item of that code is in the database"


def item_executable(folder: Path, kim_id: str) -> Path | None:
    """The executable ``path()`` names in an item's folder, or None (then the folder is meant).

    2020 items: the first of kimspec's ``executables`` (a test driver's ``runner``; an explicit
    empty list means none), else ``runner``; 2012 items: the program named like the folder.
    """
    declared = None
    kimspec = folder / config.KIMSPEC_FILE
    if kimspec.is_file():
        try:
            declared = edn.load(kimspec, kim_id=kim_id).get("executables")
        except (PipelineError, AttributeError) as exc:
            raise PipelineTemplateError(f"path(): {kim_id} has an unreadable kimspec.edn: {exc}") from exc
    if isinstance(declared, list):
        names = [str(name) for name in declared[:1]]
    else:
        names = [config.RUNNER_FILE, kim_id]
    for name in names:
        program = (folder / name).resolve()
        # An executables entry must not lead out of the item's folder.
        if program.is_relative_to(folder) and program.is_file():
            return program
    return None


class RenderState:
    """The globals of one render, and what they read (the upstream results used)."""

    def __init__(self, runner_item, model):
        self.runner_item = runner_item
        self.model = model
        self.upstream: list[str] = []

    def used(self, result) -> None:
        if result.kim_id not in self.upstream:
            self.upstream.append(result.kim_id)

    def path(self, kim_id) -> str:
        """As OpenKIM's ``path()`` and 2012 ``@PATH[...]``: an item's executable if it has one
        (``item_executable``), else its folder; absolute, inside the repository.

        Only an imported item answers: the latest imported version when the ID has none, from
        its row (one query), never from the folders on disk; a folder the importer rejected
        in place stays in the repository with no row, and is refused, saying so.
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
        table = MODEL_FOR_LEADER.get(code.leader)
        if table is None or issubclass(table, Outcome):
            raise PipelineTemplateError(f"path(): no kind of item has leader {code.leader}")
        # One query: the row, and whether its build from source succeeded (build.built_folder).
        succeeded = Build.objects.filter(kim_id=OuterRef("kim_id"), status=Build.Status.SUCCEEDED)
        row = (table.objects.filter(leader=code.leader).matching_code(text)
               .annotate(was_built=Exists(succeeded)).order_by("-version")
               .values_list("kim_id", "was_built").first())
        root = storage.repository_root().resolve()
        if row is None:
            raise PipelineTemplateError(_not_imported(root, code, text))
        imported, was_built = row
        folder = root / code.leader.lower() / imported
        if not folder.exists() and not folder.is_symlink():
            raise PipelineTemplateError(f"path(): {imported} has no folder in the repository")
        resolved = folder.resolve()
        # A symlinked item folder must not lead out of the repository.
        if not resolved.is_relative_to(root):
            raise PipelineTemplateError(f"path(): {text} resolves outside the repository")
        if not resolved.is_dir():
            raise PipelineTemplateError(f"path(): {imported} has no folder in the repository")
        # A driver built from source is used from the pipeline's build area (its built copy).
        built = build.build_area() / imported / "src"
        if was_built and built.is_dir():
            resolved = built.resolve()
            if not resolved.is_relative_to(build.build_area().resolve()):
                raise PipelineTemplateError(f"path(): the build of {text} resolves outside the build area")
        program = item_executable(resolved, imported)
        return str(program) if program is not None else str(resolved)

    def get_test_result(self, test, model, prop, keys, units=None):
        """kim_query.get_test_result answered from this database: one inner list per instance."""
        tests, models_ = _kim_ids(test, "test"), _kim_ids(model, "model")
        props = _kim_ids(prop, "prop") if not isinstance(prop, str) else [prop]
        keys = [keys] if isinstance(keys, str) else list(keys)
        units = [None] * len(keys) if units is None else ([units] if isinstance(units, str) else list(units))
        if len(units) != len(keys):
            raise PipelineTemplateError(f"get_test_result(): {len(keys)} keys but {len(units)} units")
        result = pair_result(tests[0], models_[0])
        self.used(result)
        rows = []
        for instance in instances_of(result, props[0]):
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
        """OpenKIM's query API over this database (queryapi); the results it read are upstream."""
        answer = api.run(dict(params or {}))
        for uuid in answer.uuids:
            if uuid not in self.upstream:
                self.upstream.append(uuid)
        return answer.result

    def kim2012_data(self, first, second=None, third=None):
        """The target of the 2012 ``@DATA[RD]``, ``@DATA[TR][PR]`` and ``@DATA[TE][MO][PR]``."""
        if third is not None:
            result, prop = pair_result(first, second), third
        elif second is not None:
            try:
                result = result_by_id(first)
            except InvalidKIMID as exc:
                raise PipelineTemplateError(f"@DATA: {exc.reason}") from exc
            if result is None:
                raise PipelineDataMissing(f"@DATA: no test result {first}", kim_id=first)
            prop = second
        else:
            try:
                datum = resolve_item(ReferenceDatum, first, "@DATA")
            except PipelineSearchError as exc:
                raise PipelineDataMissing(f"@DATA: {exc.reason}", kim_id=first) from exc
            values = [simple_value(i) for i in datum.data]
            return values[0] if len(values) == 1 else values
        self.used(result)
        values = [simple_value(i) for i in instances_of(result, prop)]
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
