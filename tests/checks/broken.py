"""The broken models of tests/fixtures/broken_models as item folders the installer builds."""

from pathlib import Path

import kim_edn

SOURCE = Path(__file__).resolve().parent.parent / "fixtures" / "broken_models"
CHECKS = ("SpeciesSupportedAsStated", "ForcesNumerDeriv", "Objectivity", "InversionSymmetry",
          "PermutationSymmetry", "PeriodicitySupport", "DimerContinuityC1", "UnitConversion",
          "MemoryLeak", "ThreadSafety")

CMAKELISTS = """cmake_minimum_required(VERSION 3.10)

list(APPEND CMAKE_PREFIX_PATH $ENV{{KIM_API_CMAKE_PREFIX_DIR}})
find_package(KIM-API-ITEMS 2.2 REQUIRED CONFIG)

kim_api_items_setup_before_project(ITEM_TYPE "portableModel")
project({kim_id} LANGUAGES CXX)
kim_api_items_setup_after_project(ITEM_TYPE "portableModel")

add_kim_api_model_library(
  NAME                    ${{PROJECT_NAME}}
  CREATE_ROUTINE_NAME     "model_create"
  CREATE_ROUTINE_LANGUAGE "cpp"
  )

target_sources(${{PROJECT_NAME}} PRIVATE PairModel.cpp)
target_compile_features(${{PROJECT_NAME}} PRIVATE cxx_std_11)
{definitions}"""


def variants() -> dict:
    """KIM ID -> {"defect", "species", "caught-by"} (variants.edn)."""
    return kim_edn.load(str(SOURCE / "variants.edn"))


def write_item(kim_id: str, variant: dict, root: Path) -> Path:
    """The variant's item folder under root: the one source, its CMakeLists.txt and kimspec.edn."""
    folder = root / kim_id
    folder.mkdir(parents=True)
    (folder / "PairModel.cpp").write_bytes((SOURCE / "PairModel.cpp").read_bytes())
    defect = variant["defect"]
    definitions = (f"target_compile_definitions(${{PROJECT_NAME}} PRIVATE {defect})\n"
                   if defect else "")
    (folder / "CMakeLists.txt").write_text(CMAKELISTS.format(kim_id=kim_id, definitions=definitions))
    (folder / "kimspec.edn").write_text(kim_edn.dumps({
        "extended-id": kim_id,
        "title": f"Morse pair model with the defect {defect or 'none'} (verification-check fixture)",
        "species": variant["species"],
        "kim-api-version": "2.2",
    }))
    return folder


def expected_grade(check: str, variant: dict) -> str:
    """F from the check that must catch the defect; a pass (A for the graded check) from the rest."""
    if check == variant["caught-by"]:
        return "F"
    return "A" if check == "ForcesNumerDeriv" else "P"
