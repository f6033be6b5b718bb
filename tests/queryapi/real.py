"""Real results for the query API's tests: the example repository imported, its drivers run by
the real runner on installed Al models, and a Test written the way OpenKIM writes them."""

import re
import shutil
from pathlib import Path

from queryapi import sync
from repository.importer import import_item, import_repository
from repository.installed import register_installed_items
from repository.models import Model, Test, TestResult

AL_MODELS = ("EAM_Dynamo_ErcolessiAdams_1994_Al__MO_123629422045_005",
             "EAM_Dynamo_MishinFarkasMehl_1999_Al__MO_651801486679_005")
EXAMPLE_SURFACE = "SurfaceEnergyIdealFCC_fcc_Al__TE_248680440319_000"
OPENKIM_STYLE = "SurfaceEnergyIdealFCC_QueryStyle_fcc_Al__TE_000000000911_000"

#: OpenKIM's way of reading the upstream lattice constant (the published surface-energy tests).
OPENKIM_QUERY = (
    'query({"query": {"meta.runner.kimcode": {"$regex": "LatticeConstantCubicEnergy_fcc_Al__TE_[0-9]{12}"}, '
    '"meta.subject.kimcode": MODELNAME, "property-id": {"$regex": "property/structure-cubic-crystal-npt"}, '
    '"short-name.source-value": "fcc"}, "project": ["a.si-value"], "fields": {"a.si-value": 1}, '
    '"database": "data", "limit": 1})')


def import_examples(examples_dir: Path) -> None:
    register_installed_items()
    report = import_repository(examples_dir)
    assert not report.rejected, report.rejected
    # Installed models are registered in bulk (no signals): their obj documents are made as
    # the setup makes them, by rebuilding.
    sync.rebuild()


def write_openkim_style_test(repository_dir: Path, examples_dir: Path) -> Test:
    """The example surface-energy test with its template asking query() for the lattice constant
    in SI, as OpenKIM's own tests do, instead of get_test_result."""
    source = examples_dir / "te" / EXAMPLE_SURFACE
    folder = repository_dir.parent / "openkim-style" / "te" / OPENKIM_STYLE
    shutil.copytree(source, folder)
    (folder / "dependencies.edn").unlink(missing_ok=True)  # what the query names is enough
    spec = (folder / "kimspec.edn").read_text().replace(EXAMPLE_SURFACE, OPENKIM_STYLE)
    (folder / "kimspec.edn").write_text(spec)
    template = (folder / "pipeline.stdin.tpl").read_text()
    template = re.sub(r"@< get_test_result\(.*\)\[0\]\[0\] >@",
                      f"@< {OPENKIM_QUERY}[0] / 1e-10 >@", template)
    assert OPENKIM_QUERY in template
    (folder / "pipeline.stdin.tpl").write_text(template)
    return import_item(folder, source_root=folder.parent.parent)


def run(test_kim_id: str, model_kim_id: str) -> TestResult:
    from runner.execute import run_pair

    outcome = run_pair(Test.objects.get(kim_id=test_kim_id), Model.objects.get(kim_id=model_kim_id))
    assert isinstance(outcome, TestResult), f"{outcome}: {getattr(outcome, 'message', '')}\n" \
        f"{getattr(outcome, 'stderr_tail', '')}"
    return outcome


def lattice_test() -> Test:
    return Test.objects.get(kim_id__startswith="LatticeConstantCubicEnergy_fcc_Al__TE_")


def key_values(result: TestResult, key: str, short_name: str | None = None) -> list:
    """``key``'s source-values in the result's instances (of one property, if named)."""
    return [i[key]["source-value"] for i in sorted(result.instances, key=lambda i: i["instance-id"])
            if key in i and (short_name is None or i["property-id"].endswith(f"property/{short_name}"))]
