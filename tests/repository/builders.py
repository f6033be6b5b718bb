"""Item folders of both formats written into a test's folder: the cast the importer tests share."""

import json
from pathlib import Path

import kim_edn

from repository.models import (
    Model,
    ModelDriver,
    Property,
    ReferenceDatum,
    Test,
    TestDriver,
    VerificationCheck,
)

PROJECT_DIR = Path(__file__).resolve().parents[2]

ATOMIC_MASS = "tag:brunnels@noreply.openkim.org,2016-05-11:property/atomic-mass"
CUSTOM_PROPERTY = "tag:staff@noreply.openkim.org,2026-01-01:property/test-only-quantity"

PR_SHIPPED = "AtomicMass__PR_000000000001_000"
PR_CUSTOM = "TestOnlyQuantity__PR_000000000002_000"
TD_2020 = "LatticeConstantCubic__TD_000000000010_000"
TD_2012 = "LatticeConstantCubicEnergy__TD_373755852346_000"
MD = "LJ__MD_000000000020_000"
MO = "LJ_Ar__MO_000000000030_000"
SM = "Sim_LAMMPS_Ar__SM_000000000031_000"
RD = "AtomicMass_Ar__RD_000000000040_000"
TE_A0 = "LatticeConstant_Ar_fcc__TE_000000000050_000"
TE_A1 = "LatticeConstant_Ar_fcc__TE_000000000050_001"
TE_B = "BulkModulus_Ar_fcc__TE_000000000051_000"
TE_2012 = "LatticeConstantCubicEnergy_Fe_fcc__TE_248695510051_000"
TE_2012_ELASTIC = "ElasticConstants_Fe_fcc__TE_248695510052_000"
VC = "SpeciesSupportedAsStated__VC_000000000060_000"

ALL_ITEMS = (PR_SHIPPED, PR_CUSTOM, TD_2020, TD_2012, MD, MO, SM, RD, TE_A0, TE_A1, TE_B,
             TE_2012, TE_2012_ELASTIC, VC)


def folder_of(root: Path, kim_id: str) -> Path:
    leader = kim_id.split("__")[-1][:2]
    return root / leader.lower() / kim_id


def write_executable(path: Path, text: str = "#!/bin/sh\necho '{}'\n") -> None:
    path.write_text(text)
    path.chmod(0o755)


def item_2020(root: Path, kim_id: str, *, runner: bool = False, template: bool = False,
              dependencies=None, files=None, **kimspec) -> Path:
    folder = folder_of(root, kim_id)
    folder.mkdir(parents=True)
    spec = {"extended-id": kim_id, "title": kim_id.split("__")[0].replace("_", " ")}
    spec.update({key.replace("_", "-"): value for key, value in kimspec.items()})
    (folder / "kimspec.edn").write_text(kim_edn.dumps(spec, indent=2))
    if runner:
        write_executable(folder / "runner")
    if template:
        (folder / "pipeline.stdin.tpl").write_text("@< MODELNAME >@\n")
    if dependencies is not None:
        (folder / "dependencies.edn").write_text(kim_edn.dumps(dependencies))
    for name, text in (files or {}).items():
        (folder / name).write_text(text)
    return folder


def item_2012(root: Path, kim_id: str, *, executable: bool = True, pipeline_in: str | None = None,
              pipeline_out: str | None = None, **metadata) -> Path:
    folder = folder_of(root, kim_id)
    folder.mkdir(parents=True)
    (folder / "metadata.json").write_text(json.dumps({"kim_code": kim_id, **metadata}, indent=4))
    if executable:
        write_executable(folder / kim_id)
    if pipeline_in is not None:
        (folder / "pipeline.in").write_text(pipeline_in)
    if pipeline_out is not None:
        (folder / "pipeline.out").write_text(pipeline_out)
    return folder


def build_source_repository(root: Path) -> Path:
    """One item of every kind, both formats, with drivers, a property and test dependencies."""
    root.mkdir(parents=True, exist_ok=True)
    item_2020(root, PR_SHIPPED, property_id=ATOMIC_MASS)
    item_2020(root, PR_CUSTOM, property_id=CUSTOM_PROPERTY, files={
        "definition.edn": kim_edn.dumps({
            "property-id": CUSTOM_PROPERTY, "property-title": "A quantity for tests",
            "property-description": "Only in the test suite",
            "a": {"type": "float", "has-unit": True, "extent": [], "required": True,
                  "description": "a length"},
        }),
    })
    item_2020(root, TD_2020, runner=True, executables=["runner"], description="fcc lattice constant")
    item_2012(root, TD_2012, title="Lattice constant of a cubic crystal (2012 driver)")
    item_2020(root, MD, kim_api_version="2.3")
    item_2020(root, MO, species=["Ar"], model_driver=MD, kim_api_version="2.3")
    item_2020(root, SM, species=["Ar"], simulator_name="LAMMPS", kim_api_version="2.3",
              **{"simulator-potential-compatible?": True})
    item_2020(root, RD, species=["Ar"], property_id=ATOMIC_MASS, citation="CRC Handbook",
              files={"data.edn": kim_edn.dumps([{
                  "property-id": ATOMIC_MASS, "instance-id": 1,
                  "species": {"source-value": "Ar"},
                  "mass": {"source-value": 39.948, "source-unit": "u"},
              }])})
    for kim_id in (TE_A0, TE_A1):
        item_2020(root, kim_id, runner=True, template=True, species=["Ar"], test_driver=TD_2020,
                  matching_models=["standard-models"], kim_api_version="2.3", timeout=120)
    item_2020(root, TE_B, runner=True, template=True, species=["Ar"], test_driver=TD_2020,
              matching_models=["standard-models"], kim_api_version="2.3",
              dependencies=["TE_000000000050"])
    item_2012(root, TE_2012, title="Lattice constant of fcc Fe", species=["Fe"],
              test_drivers=[TD_2012],
              pipeline_in=f"@PATH[{TD_2012}]\nFe\nfcc\n@MODELNAME\n",
              pipeline_out="lattice_constant : PR_000000000001_000\n")
    item_2012(root, TE_2012_ELASTIC, title="Elastic constants of fcc Fe", species=["Fe"],
              test_drivers=[TD_2012],
              pipeline_in=f"@DATA[{TE_2012}][@MODELNAME][PR_000000000001_000]\n@MODELNAME\n",
              pipeline_out="c11 : PR_000000000001_000\n")
    item_2020(root, VC, runner=True, template=True, category="mandatory", graded=False,
              kim_api_version="2.3")
    return root


ITEM_TABLES = (Test, TestDriver, Model, ModelDriver, Property, ReferenceDatum, VerificationCheck)


def row_state():
    """Every item row's KIM ID and updated_at: what a repeated import must leave alone."""
    return {m.__name__: sorted(m.objects.values_list("kim_id", "updated_at")) for m in ITEM_TABLES}

def all_kim_ids():
    return {kim_id for m in ITEM_TABLES for kim_id in m.objects.values_list("kim_id", flat=True)}

class Text:
    """A writable that keeps what a command printed."""

    def __init__(self):
        self.text = ""

    def write(self, text):
        self.text += text

    def flush(self):
        pass
