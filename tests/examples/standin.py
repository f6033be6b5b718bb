"""A minimal stand-in for the runner: render an item's input and run it in a scratch copy.

Until runner/ runs pairs, the example tests use this: a jinja2 sandbox with the KIM delimiters
and strict undefined variables, `path()` answered from examples/repository, and
`get_test_result()` answered from upstream results.edn files the test computed itself.
"""

import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import jinja2
import jinja2.sandbox
import kim_edn
from kim_property import check_property_instances, get_properties

PROJECT_DIR = Path(__file__).resolve().parents[2]
REPOSITORY = PROJECT_DIR / "examples" / "repository"
VENV_BIN = Path(sys.executable).parent
RUN_TIMEOUT = 180  # seconds; a run here takes about one


def item_dir(name: str, leader: str) -> Path:
    """The folder of the item `name__LL_…` (name without number), e.g. ("BulkModulusCubic_fcc_Al", "TE")."""
    matches = sorted((REPOSITORY / leader.lower()).glob(f"{name}__{leader}_*"))
    assert len(matches) == 1, f"expected one {leader} named {name}, found {matches}"
    return matches[0]


def find_by_code(code: str) -> Path:
    """Folder of an item given its full ID or its short code (TE_############ with or without version)."""
    leader = re.search(r"(?:^|__)([A-Z]{2})_\d{12}", code).group(1)
    short = re.search(r"[A-Z]{2}_\d{12}(?:_\d{3})?", code).group(0)
    matches = [p for p in (REPOSITORY / leader.lower()).iterdir() if short in p.name]
    assert len(matches) == 1, f"no single item for {code}: {matches}"
    return matches[0]


def property_values(results: list, short_name: str, key: str) -> list:
    """The `key` source-values of every instance of the property `short_name`, in order."""
    return [
        instance[key]["source-value"]
        for instance in results
        if instance["property-id"].endswith(f"property/{short_name}")
    ]


@dataclass
class Upstream:
    """Answers get_test_result() from results.edn texts keyed by (TE code, model name)."""

    results: dict = field(default_factory=dict)
    calls: list = field(default_factory=list)

    def get_test_result(self, tests, models, properties, keys, units):
        self.calls.append((tests, models, properties, keys, units))
        instances = kim_edn.loads(self.results[(tests[0], models[0])])
        answer = []
        for instance in instances:
            if not instance["property-id"].endswith(f"property/{properties[0]}"):
                continue
            row = []
            for key, unit in zip(keys, units, strict=True):
                # The stand-in converts nothing: the example templates ask in the stored units.
                assert instance[key].get("source-unit") == unit, (key, unit)
                row.append(instance[key]["source-value"])
            answer.append(row)
        return answer


def render(template: str, model: str, test_name: str, upstream: Upstream | None = None) -> str:
    environment = jinja2.sandbox.SandboxedEnvironment(
        variable_start_string="@<",
        variable_end_string=">@",
        block_start_string="@[",
        block_end_string="]@",
        comment_start_string="@#",
        comment_end_string="#@",
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
    )
    environment.globals.update(
        MODELNAME=model,
        TESTNAME=test_name,
        path=lambda code: str(find_by_code(code)),
        get_test_result=(upstream or Upstream()).get_test_result,
    )
    return environment.from_string(template).render()


def render_2012(pipeline_in: str, model: str, test_name: str) -> str:
    """@TESTNAME, @MODELNAME, @PATH[…] (the item's executable if it has one) as in 2012."""
    text = pipeline_in.replace("@TESTNAME", test_name).replace("@MODELNAME", model)

    def executable_or_folder(match):
        folder = find_by_code(match.group(1))
        executable = folder / folder.name
        return str(executable if executable.exists() else folder)

    return re.sub(r"@PATH\[(.*?)\]", executable_or_folder, text)


@dataclass
class Run:
    workdir: Path
    returncode: int
    stdout: str
    stderr: str

    @property
    def results_text(self) -> str:
        return (self.workdir / "output" / "results.edn").read_text()

    @property
    def results(self) -> list:
        """The results, after checking them against kim-property's shipped definitions."""
        text = self.results_text
        check_property_instances(text, fp_path=get_properties())
        return kim_edn.loads(text)


def subprocess_env() -> dict:
    env = dict(os.environ)
    env["PATH"] = f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}"
    return env


def run_item(folder: Path, model: str, scratch: Path, upstream: Upstream | None = None) -> Run:
    """Copy a 2020 test or check to `scratch`, render its input and run its `runner` there."""
    workdir = scratch / folder.name
    shutil.copytree(folder, workdir)
    (workdir / "output").mkdir()
    stdin_text = render((workdir / "pipeline.stdin.tpl").read_text(), model, folder.name, upstream)
    (workdir / "pipeline.stdin").write_text(stdin_text)
    with open(workdir / "pipeline.stdin") as stdin:
        done = subprocess.run(
            [str(workdir / "runner")], stdin=stdin, cwd=workdir, env=subprocess_env(),
            capture_output=True, text=True, timeout=RUN_TIMEOUT,
        )
    return Run(workdir, done.returncode, done.stdout, done.stderr)


def run_2012(folder: Path, model: str, scratch: Path) -> Run:
    """Copy a 2012 test to `scratch`, process pipeline.in and run the executable named like it."""
    workdir = scratch / folder.name
    shutil.copytree(folder, workdir)
    stdin_text = render_2012((workdir / "pipeline.in").read_text(), model, folder.name)
    (workdir / "pipeline.in.tmp").write_text(stdin_text)
    with open(workdir / "pipeline.in.tmp") as stdin:
        done = subprocess.run(
            [str(workdir / folder.name)], stdin=stdin, cwd=workdir, env=subprocess_env(),
            capture_output=True, text=True, timeout=RUN_TIMEOUT,
        )
    return Run(workdir, done.returncode, done.stdout, done.stderr)


def short_code(folder: Path) -> str:
    """TE_############ of a test folder: how dependencies.edn and templates name it."""
    return re.search(r"[A-Z]{2}_\d{12}", folder.name.split("__", 1)[1]).group(0)
