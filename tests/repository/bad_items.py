"""Bad item folders, each made beside a good source repository: (folder, reason it is rejected)."""

import json
import shutil

import kim_edn

from repository import edn
from tests.repository import builders as b


def malformed_id(source):
    folder = source / "te" / "Bad__TE_12345_000"
    shutil.copytree(b.folder_of(source, b.TE_A0), folder)
    return folder, "not a full KIM ID"

def wrong_leader_folder(source):
    folder = source / "te" / b.MO
    shutil.copytree(b.folder_of(source, b.MO), folder)
    return folder, "a MO item in the te/ folder"

def disagreeing_kimspec(source):
    folder = b.item_2020(source, "Other__TE_000000000070_000", runner=True, template=True)
    (folder / "kimspec.edn").write_text(kim_edn.dumps({"extended-id": "Other__TE_000000000071_000"}))
    return folder, "disagrees with kimspec extended-id"

def disagreeing_metadata(source):
    folder = b.item_2012(source, "Other__TE_000000000072_000", pipeline_in="x\n", pipeline_out="")
    (folder / "metadata.json").write_text(json.dumps({"kim_code": "Other__TE_000000000073_000"}))
    return folder, "disagrees with metadata kim_code"

def unparsable_edn(source):
    folder = b.item_2020(source, "Broken__TE_000000000074_000", runner=True, template=True)
    (folder / "kimspec.edn").write_text('{"extended-id" "Broken__TE_000000000074_000" "title" ')
    return folder, "kimspec.edn is not valid EDN"

def unparsable_dependencies(source):
    folder = b.item_2020(source, "Broken__TE_000000000075_000", runner=True, template=True)
    (folder / "dependencies.edn").write_text('["TE_000000000050"')
    return folder, "dependencies.edn is not valid EDN"

def unparsable_json(source):
    folder = b.item_2012(source, "Broken__TE_000000000076_000", pipeline_in="x\n", pipeline_out="")
    (folder / "metadata.json").write_text('{"kim_code": ')
    return folder, "metadata.json is not valid JSON"

def missing_2020(name):
    def make(source):
        folder = b.item_2020(source, "Missing__TE_000000000077_000", runner=True, template=True)
        (folder / name).unlink()
        reason = "neither kimspec.edn nor metadata.json" if name == "kimspec.edn" else f"required file {name} is missing"
        return folder, reason
    make.__name__ = f"missing_2020_{name}"
    return make

def missing_2012(name):
    def make(source):
        kim_id = "Missing__TE_000000000078_000"
        folder = b.item_2012(source, kim_id, pipeline_in="@MODELNAME\n", pipeline_out="a : PR_000000000001_000\n")
        (folder / (kim_id if name == "executable" else name)).unlink()
        if name == "metadata.json":
            return folder, "neither kimspec.edn nor metadata.json"
        return folder, f"required file {kim_id if name == 'executable' else name} is missing"
    make.__name__ = f"missing_2012_{name}"
    return make

def unknown_dependency(source):
    folder = b.item_2020(source, "Orphan__TE_000000000079_000", runner=True, template=True,
                         dependencies=["TE_000000000666"])
    return folder, "dependency: test TE_000000000666 is not in the database"

def unknown_test_driver(source):
    folder = b.item_2020(source, "Orphan__TE_000000000080_000", runner=True, template=True,
                         test_driver="Nowhere__TD_000000000667_000")
    return folder, "test driver Nowhere__TD_000000000667_000 is not in the database"

def symlink_out_of_repository(source):
    outside = source.parent / "outside.txt"
    outside.write_text("secret\n")
    folder = b.item_2020(source, "Leaky__TE_000000000081_000", runner=True, template=True)
    (folder / "data").symlink_to(outside)
    return folder, "symlink leads out of the repository"

def dependency_cycle(source):
    first = b.item_2020(source, "Cycle__TE_000000000082_000", runner=True, template=True,
                        dependencies=["TE_000000000083"])
    b.item_2020(source, "Cycle__TE_000000000083_000", runner=True, template=True,
                dependencies=["TE_000000000082"])
    return first, "dependency cycle among"

def title_too_long(source):
    folder = b.item_2020(source, "Wordy__TE_000000000084_000", runner=True, template=True)
    spec = edn.load(folder / "kimspec.edn")
    spec["title"] = "x" * 400
    (folder / "kimspec.edn").write_text(kim_edn.dumps(spec))
    return folder, "invalid field values"

BAD_ITEMS = [
    malformed_id, wrong_leader_folder, disagreeing_kimspec, disagreeing_metadata,
    unparsable_edn, unparsable_dependencies, unparsable_json,
    missing_2020("runner"), missing_2020("pipeline.stdin.tpl"), missing_2020("kimspec.edn"),
    missing_2012("metadata.json"), missing_2012("pipeline.in"), missing_2012("pipeline.out"),
    missing_2012("executable"),
    unknown_dependency, unknown_test_driver, symlink_out_of_repository, dependency_cycle,
    title_too_long,
]
