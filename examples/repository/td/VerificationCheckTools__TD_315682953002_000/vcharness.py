"""The harness every example verification check runs in: kim_tools.vc's VerificationCheck
(the report), the grade of its parts, and the verification-check property instances.

A check's runner reads this folder's path from the first line of its input (``path(...)`` in
its template: the folder, or the `runner` inside it) and calls ``main(...)`` with its metadata
and its ``do_vc(model, vc) -> Verdict``. kim_tools' own ``setup_and_run_vc`` turns an exception
into the grade N/A; here an exception ends the run with a non-zero status, so the pipeline keeps
an Error: a check whose own code fails says nothing about the model.

What a run writes:
* ``output/report.txt`` — kim_tools' report: header, description, the figures, ``Grade: X`` last;
* ``output/results.edn`` — the overall verification-check instance first (its vc-grade is the
  result's grade), then one instance per figure (vc-name ``<check>/<figure>``) with its numbers
  in vc-comment and the configurations it used in vc-files.
"""

import contextlib
import os
import sys
from dataclasses import dataclass, field

AUTHOR = "The kimsite pipeline's example repository"
PASS, FAIL, NOT_APPLICABLE = "P", "F", "N/A"
LETTERS = "ABCDF"


def kim_tools_part(part: str):
    """``kim_tools.<part>.core`` (``vc`` or ``ase``), loaded from its file.

    Importing ``kim_tools`` runs the package's __init__, which also imports its AFLOW and
    symmetry helpers: about 2.3 s of CPU in every check's process, for code no check uses. The
    two modules the checks use import nothing else of the package.
    """
    import importlib.util
    from pathlib import Path

    name = f"_kim_tools_{part}_core"
    if name not in sys.modules:
        package = Path(importlib.util.find_spec("kim_tools").origin).parent  # not imported
        spec = importlib.util.spec_from_file_location(name, package / part / "core.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        sys.modules[name] = module
    return sys.modules[name]


class NotApplicable(Exception):
    """The check cannot apply to this model (a simulator model, no stated species, ...)."""


@dataclass
class Figure:
    """One measured part of a check: what was compared, its grade and its numbers."""

    name: str
    grade: str
    comment: str
    files: list = field(default_factory=list)


@dataclass
class Verdict:
    grade: str
    comment: str
    figures: list = field(default_factory=list)


def guard_stdout():
    """Some models print on the C-level stdout: fd 1 goes to stderr, Python's stdout stays."""
    sys.stdout.flush()
    saved = os.dup(1)
    os.dup2(2, 1)
    sys.stdout = os.fdopen(saved, "w", buffering=1)


def read_model_name() -> str:
    """The model name: the input line after the tools' path (which the runner has read)."""
    lines = [line.strip() for line in sys.stdin if line.strip()]
    if not lines:
        raise SystemExit("expected a model name on stdin after the tools' path")
    return lines[-1]


def pass_fail(figures, passed_comment: str, failed_comment: str) -> Verdict:
    """P when every figure passed, F when one failed; N/A figures are reported, not counted."""
    counted = [f for f in figures if f.grade != NOT_APPLICABLE]
    if not counted:
        raise NotApplicable("no part of the check could be computed: "
                            + "; ".join(f"{f.name}: {f.comment}" for f in figures))
    failed = [f.name for f in counted if f.grade == FAIL]
    if failed:
        return Verdict(FAIL, f"{failed_comment} ({', '.join(failed)})", figures)
    return Verdict(PASS, passed_comment, figures)


def worst_letter(figures, comment: str) -> Verdict:
    counted = [f for f in figures if f.grade in LETTERS]
    if not counted:
        raise NotApplicable("no part of the check could be graded")
    worst = max(counted, key=lambda f: LETTERS.index(f.grade))
    return Verdict(worst.grade, f"{comment} The worst part is {worst.name}: {worst.comment}", figures)


def relative(difference: float, scale: float) -> float:
    """|difference| relative to |scale|, absolute when the scale is below 1 (an energy near 0)."""
    return abs(difference) / max(abs(scale), 1.0)


def main(name: str, description: str, category: str, basis: str, do_vc):
    """Run ``do_vc(model, vc)`` inside kim_tools' VerificationCheck and write the results."""
    vc_tools = kim_tools_part("vc")
    VerificationCheck, vc_stripall = vc_tools.VerificationCheck, vc_tools.vc_stripall

    guard_stdout()
    model = read_model_name()
    description = vc_stripall(description)
    vc = VerificationCheck(name, AUTHOR, description, category, basis, [], True)
    # kim_tools echoes the report on stdout; here stdout carries one line, the report goes to
    # stderr as well as to report.txt.
    with contextlib.redirect_stdout(sys.stderr), vc:
        vc.rwrite(f"Model: {model}")
        vc.rwrite(f"Category: {category}; grade basis: {basis}")
        vc.rwrite("")
        try:
            verdict = do_vc(model, vc)
        except NotApplicable as reason:
            verdict = Verdict(NOT_APPLICABLE, f"The check does not apply: {reason}")
        for figure in verdict.figures:
            vc.rwrite(f"{figure.name}: {figure.grade}")
            vc.rwrite(f"    {figure.comment}")
            if figure.files:
                vc.rwrite(f"    files: {', '.join(figure.files)}")
        vc.rwrite("")
        vc.rwrite("Comment: " + verdict.comment)
        vc.rwrite("")
        vc.rwrite(f"Grade: {verdict.grade}")
    write_results(name, description, category, basis, verdict)
    print(f"{model}: {verdict.grade} ({verdict.comment[:300]})")


def _instance_keys(name, description, category, basis, grade, comment, files):
    keys = ["key", "vc-name", "source-value", name,
            "key", "vc-description", "source-value", description,
            "key", "vc-category", "source-value", category,
            "key", "vc-grade-basis", "source-value", basis,
            "key", "vc-grade", "source-value", grade,
            "key", "vc-comment", "source-value", comment]
    if files:
        keys += ["key", "vc-files", "source-value", f"1:{len(files)}", *files]
    return keys


def write_results(name, description, category, basis, verdict: Verdict):
    """output/results.edn: the overall instance, then one per figure; checked by kim-property."""
    import kim_edn
    from kim_property import (
        check_property_instances,
        get_properties,
        kim_property_create,
        kim_property_modify,
    )

    files = ["report.txt"] + [f for figure in verdict.figures for f in figure.files]
    instances = kim_property_create(1, "verification-check")
    instances = kim_property_modify(
        instances, 1, *_instance_keys(name, description, category, basis, verdict.grade,
                                      verdict.comment, files))
    for number, figure in enumerate(verdict.figures, start=2):
        instances = kim_property_create(number, "verification-check", instances)
        instances = kim_property_modify(
            instances, number, *_instance_keys(f"{name}/{figure.name}", description, category,
                                               basis, figure.grade, figure.comment, figure.files))
    check_property_instances(instances, fp_path=get_properties())
    os.makedirs("output", exist_ok=True)
    with open("output/results.edn", "w") as results:
        kim_edn.dump(kim_edn.loads(instances), results, indent=2)
        results.write("\n")
