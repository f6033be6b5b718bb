"""The one place the suite makes KIM items: rows, and for runners their folders in the repository.

Every helper takes the parts of a KIM ID (name, number, version) or a full KIM ID, so a test
says only what its case is about; the defaults make an approved argon item that matches the
installed argon models. A runner (test or check) gets a folder with a no-op ``runner`` script
only when ``root`` (the repository) is given: most database-level tests need no files.
"""

import re
import stat
from datetime import timedelta
from pathlib import Path

from django.utils import timezone

from repository.models import (
    Error,
    Model,
    SourceFormat,
    Status,
    Test,
    TestResult,
    VerificationCheck,
    VerificationResult,
)

#: The no-op runner script (reads the model name; can be slow or failing; logs start/finish).
RUNNER_SCRIPT = Path(__file__).resolve().parent / "fixtures" / "pipeline" / "runner.sh.tpl"
#: What a no-op check writes: a passing verification-check instance.
CHECK_RESULTS = ('[{"property-id" "tag:tadmor@noreply.openkim.org,2017-02-01:property/verification-check"'
                 ' "instance-id" 1 "vc-name" {"source-value" "noop"} "vc-description" {"source-value"'
                 ' "a no-op check"} "vc-category" {"source-value" "mandatory"} "vc-grade-basis"'
                 ' {"source-value" "passfail"} "vc-grade" {"source-value" "P"}}]')

#: Argon models installed with Debian's openkim-models: real KIM API names the matcher accepts.
AR_MODELS = [
    "LJ_Shifted_Bernardes_1958HighCutoff_Ar__MO_242741380554_004",
    "LJ_Shifted_Bernardes_1958LowCutoff_Ar__MO_720819638419_004",
    "LJ_Shifted_Bernardes_1958MedCutoff_Ar__MO_126566794224_004",
    "LJ_Smoothed_Bernardes_1958_Ar__MO_764178710049_001",
    "LJ_Truncated_Nguyen_2005_Ar__MO_398194508715_001",
    "Morse_QuinticSmoothed_Jelinek_1972_Ar__MO_908645784389_002",
    "Morse_Shifted_Jelinek_1972_Ar__MO_831902330215_004",
    "Morse_SigmoidalSmoothed_Jelinek_1972_Ar__MO_071460865933_002",
]

#: created_at of outcomes made here, so orderings in tests do not depend on the clock.
NOW = timezone.now()


def kim_id(name: str, leader: str, number: int | str, version: int = 0) -> str:
    """``Name__LL_DDDDDDDDDDDD_VVV``; a full ID given as ``name`` is returned as it is."""
    if "__" in name:
        return name
    return f"{name}__{leader}_{int(number):012d}_{version:03d}"


def make_model(name: str = "LJ_Ar", number: int | str = 30, version: int = 0, *,
               leader: str = "MO", species=("Ar",), status=Status.APPROVED,
               kim_api_version: str = "2.3", source_format=SourceFormat.INSTALLED,
               **fields) -> Model:
    """A model row (MO, or SM with ``leader="SM"``); ``name`` may be a full KIM ID."""
    full = kim_id(name, leader, number, version)
    fields.setdefault("title", full.split("__")[0])
    return Model.objects.create(kim_id=full, species=list(species), status=status,
                                kim_api_version=kim_api_version, source_format=source_format,
                                **fields)


def ar_models(count: int | None = None, *, status=Status.APPROVED) -> list[Model]:
    """Rows for the first ``count`` installed argon models (all when None)."""
    return [make_model(k, status=status) for k in AR_MODELS[:count]]


def write_runner_folder(folder: Path, full_id: str, *, species=("Ar",), depends_on=(),
                        sleep: float = 0, log: Path | None = None, fail: bool = False) -> Path:
    """A runnable 2020 test or check folder: no-op ``runner``, template, kimspec, dependencies."""
    leader = full_id.split("__")[-1][:2]
    folder.mkdir(parents=True, exist_ok=True)
    script = RUNNER_SCRIPT.read_text().format(
        kim_id=full_id, sleep=sleep, log=log or "", fail="1" if fail else "0")
    if leader == "VC":  # a check grades the model: the no-op check passes it
        script = re.sub(r"(<<'EDN'\n).*?(\nEDN\n)", lambda m: m[1] + CHECK_RESULTS + m[2], script,
                        flags=re.DOTALL)
    runner = folder / "runner"
    runner.write_text(script)
    runner.chmod(runner.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    (folder / "pipeline.stdin.tpl").write_text("@< MODELNAME >@\n")
    spec = [f'"extended-id" "{full_id}"', f'"title" "pipeline fixture {full_id}"',
            '"kim-api-version" "2.3"', '"executables" ["runner"]',
            '"species" [' + " ".join(f'"{s}"' for s in species) + "]"]
    if leader == "TE":
        spec.append('"matching-models" ["standard-models"]')
    else:
        spec += ['"category" "mandatory"', '"graded" false']
    (folder / "kimspec.edn").write_text("{" + "\n ".join(spec) + "}\n")
    if depends_on:
        (folder / "dependencies.edn").write_text(
            "[" + " ".join(f'"{getattr(t, "kim_id", t)}"' for t in depends_on) + "]\n")
    else:
        (folder / "dependencies.edn").unlink(missing_ok=True)
    return folder


def write_test_folder(root: Path, name: str, number: int, version: int = 0, *, sleep: float = 0,
                      log: Path | None = None) -> str:
    """Only the folder of a test, for the importer to find; returns its KIM ID."""
    full = kim_id(name, "TE", number, version)
    write_runner_folder(root / "te" / full, full, sleep=sleep, log=log)
    return full


def make_test(name: str = "LatticeConstant_Ar_fcc", number: int | str = 50, version: int = 0, *,
              root: Path | None = None, species=("Ar",), matching_models=("standard-models",),
              depends_on=(), status=Status.APPROVED, kim_api_version: str = "2.3",
              sleep: float = 0, log: Path | None = None, fail: bool = False, **fields) -> Test:
    """A test row with its ``depends_on``; with ``root``, also its runnable folder there."""
    full = kim_id(name, "TE", number, version)
    if root is not None:
        write_runner_folder(root / "te" / full, full, species=species, depends_on=depends_on,
                            sleep=sleep, log=log, fail=fail)
    fields.setdefault("title", f"pipeline fixture {full.split('__')[0]}")
    test = Test.objects.create(kim_id=full, species=list(species), status=status,
                               kim_api_version=kim_api_version,
                               matching_models=list(matching_models), **fields)
    if depends_on:
        test.depends_on.set(depends_on)
    return test


def make_check(name: str = "SpeciesSupportedAsStated", number: int | str = 60, version: int = 0,
               *, root: Path | None = None, graded: bool = False, sleep: float = 0,
               log: Path | None = None, fail: bool = False, **fields) -> VerificationCheck:
    """A verification check row; with ``root``, also its runnable folder there."""
    full = kim_id(name, "VC", number, version)
    if root is not None:
        write_runner_folder(root / "vc" / full, full, species=(), sleep=sleep, log=log, fail=fail)
    fields.setdefault("title", f"pipeline fixture {full.split('__')[0]}")
    fields.setdefault("kim_api_version", "2.3")
    return VerificationCheck.objects.create(kim_id=full, graded=graded, **fields)


def _when(minutes: float):
    return NOW + timedelta(minutes=minutes)


def make_result(test: Test, model: Model, number: int, *, minutes: float = 0, **fields) -> TestResult:
    """A TestResult row (no folder) made ``minutes`` after NOW."""
    return TestResult.objects.create(kim_id=f"TR_{number:012d}_000", test=test, model=model,
                                     created_at=_when(minutes), **fields)


def make_verification_result(check: VerificationCheck, model: Model, number: int, *,
                             grade: str = "P", minutes: float = 0, **fields) -> VerificationResult:
    return VerificationResult.objects.create(kim_id=f"VR_{number:012d}_000",
                                             verification_check=check, model=model, grade=grade,
                                             created_at=_when(minutes), **fields)


def make_error(model: Model | None, number: int, *, test: Test | None = None,
               check: VerificationCheck | None = None, category=Error.Category.NONZERO_EXIT,
               message: str = "exit 1", minutes: float = 0, **fields) -> Error:
    return Error.objects.create(kim_id=f"ER_{number:012d}_000", test=test,
                                verification_check=check, model=model, category=category,
                                message=message, created_at=_when(minutes), **fields)


def make_values(result: TestResult, property_name: str = "structure-cubic-crystal-npt",
                instance: int = 1, **keys) -> list:
    """PropertyValue rows of one instance: ``a=(4.05, "angstrom")``, ``short_name=(["fcc"], "")``.

    Key names are given with ``_`` for ``-`` (Python names); the result's ``instances`` is
    kept in step, as the runner writes both.
    """
    from repository.models import PropertyValue

    property_id = f"tag:staff@noreply.openkim.org,2014-04-15:property/{property_name}"
    rows, entry = [], {"property-id": property_id, "instance-id": instance}
    for name, (value, unit) in keys.items():
        key = name.replace("_", "-")
        rows.append(PropertyValue.objects.create(result=result, instance=instance,
                                                 property_id=property_id,
                                                 property_name=property_name, key=key,
                                                 value=value, unit=unit))
        entry[key] = {"source-value": value, **({"source-unit": unit} if unit else {})}
    result.instances = [*result.instances, entry]
    result.save(update_fields=["instances"])
    return rows
