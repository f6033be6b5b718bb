"""What the KIM API has installed where, and what each item declares: read in-process through kimpy.

Listing and metadata are read-only and take milliseconds; before each read this process's
``KIM_API_CONFIGURATION_FILE`` is pointed at the pipeline's collection and the KIM API log is
silenced. Creating a model runs foreign code, so that is ``repository.kimapi.worker``'s job.
"""

import ctypes
import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from kimsite import config
from repository import edn
from repository.errors import PipelineFileMissing, PipelineSearchError

log = logging.getLogger("pipeline.kimapi")

#: Item kinds in the KIM API's collections, and the folder of each in the pipeline's collection.
COLLECTION_FOLDERS = {
    "model-driver": "model-drivers",
    "portable-model": "portable-models",
    "simulator-model": "simulator-models",
}
_KIMPY_ITEM_TYPES = {
    "model-driver": "modelDriver",
    "portable-model": "portableModel",
    "simulator-model": "simulatorModel",
}
#: kimpy's collection names → the words ``kim-api-collections-management`` uses.
_COLLECTION_WORDS = {
    "system": "system",
    "user": "user",
    "environmentVariable": "environment",
    "currentWorkingDirectory": "CWD",
}
#: The "environment" collection's variables: dropped so every process sees the same collections.
ENVIRONMENT_COLLECTION_VARIABLES = (
    "KIM_API_MODEL_DRIVERS_DIR",
    "KIM_API_PORTABLE_MODELS_DIR",
    "KIM_API_SIMULATOR_MODELS_DIR",
)
CONFIGURATION_FILE_NAME = "config"

@dataclass(frozen=True)
class InstalledItem:
    """One item a KIM API collection holds."""

    name: str
    kind: str  # portable-model | simulator-model | model-driver
    collection: str  # system | user | environment | CWD
    library: Path
    #: kimspec.edn, parsed; None when the item has none (the KIM API's own examples).
    metadata: dict | None = field(default=None, compare=False, repr=False)


# --- The pipeline's own collection ------------------------------------------------------------

def api_dir() -> Path:
    # Read at call time: tests point KIM_API_DIR at a folder of their own.
    return Path(config.KIM_API_DIR)


def collection_dir(kind: str) -> Path:
    """Where the pipeline's collection keeps items of one kind."""
    return api_dir() / COLLECTION_FOLDERS[kind]


def configuration_file() -> Path:
    """KIM_API_DIR/config naming the pipeline's collection as the "user" collection.

    Written when missing or different, so the KIM API never creates ``~/.kim-api``.
    """
    root = api_dir()
    for folder in COLLECTION_FOLDERS.values():
        (root / folder).mkdir(parents=True, exist_ok=True)
    text = "".join(
        f"{key} = {(root / folder).resolve()}\n"
        for key, folder in (("model-drivers-dir", "model-drivers"),
                            ("portable-models-dir", "portable-models"),
                            ("simulator-models-dir", "simulator-models"))
    )
    path = root / CONFIGURATION_FILE_NAME
    if not path.is_file() or path.read_text(encoding="utf-8") != text:
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
    return path


def subprocess_environment(base: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment for a process that uses the KIM API: system + the pipeline's collection.

    The ``KIM_API_*_DIR`` variables are dropped so a stray setting cannot change what a run sees.
    """
    env = dict(os.environ if base is None else base)
    for name in ENVIRONMENT_COLLECTION_VARIABLES:
        env.pop(name, None)
    env["KIM_API_CONFIGURATION_FILE"] = str(configuration_file())
    return env


def _use_pipeline_collection() -> None:
    """Point this process's KIM API at the pipeline's collection and keep it from writing kim.log."""
    os.environ["KIM_API_CONFIGURATION_FILE"] = str(configuration_file())
    for name in ENVIRONMENT_COLLECTION_VARIABLES:
        os.environ.pop(name, None)
    _silence_kim_log()


@cache
def _silence_kim_log() -> None:
    # kimpy's Log objects log their own creation, so the one static call that sets the default
    # verbosity without creating a Log is made on the shared library itself.
    import kimpy  # noqa: F401  (loads libkim-api.so.2 first, so ctypes gets the same copy)

    class LogVerbosity(ctypes.Structure):
        _fields_ = [("id", ctypes.c_int)]

    library = ctypes.CDLL("libkim-api.so.2")
    library.KIM_Log_PushDefaultVerbosity.argtypes = [LogVerbosity]
    library.KIM_Log_PushDefaultVerbosity(LogVerbosity.in_dll(library, "KIM_LOG_VERBOSITY_silent"))


def _collections():
    _use_pipeline_collection()
    import kimpy

    return kimpy.collections.create()


def _item_type(kind: str):
    import kimpy

    return getattr(kimpy.collection_item_type, _KIMPY_ITEM_TYPES[kind])


# --- What is installed ------------------------------------------------------------------------

@cache
def kim_api_version() -> str:
    """The installed KIM API's semantic version, e.g. ``2.3.0`` (build metadata dropped)."""
    _use_pipeline_collection()
    import kimpy

    return kimpy.sem_ver.get_sem_ver().split("-")[0].split("+")[0]


def installed_items(kind: str | None = None, *, with_metadata: bool = False) -> list[InstalledItem]:
    """Every item the KIM API finds (system, pipeline, environment and CWD collections)."""
    kinds = [kind] if kind else list(COLLECTION_FOLDERS)
    collections = _collections()
    items = []
    for item_kind in kinds:
        item_type = _item_type(item_kind)
        count = collections.cache_list_of_item_names_by_type(item_type)
        names = [collections.get_item_name_by_type(i) for i in range(count)]
        for name in names:
            items.append(_describe(collections, item_kind, name, with_metadata))
    return items


def installed_item(name: str, *, with_metadata: bool = False) -> InstalledItem:
    """One installed item by its KIM API name; PipelineSearchError if none answers to it."""
    collections = _collections()
    kind = _kind_of(collections, name)
    return _describe(collections, kind, name, with_metadata)


def _kind_of(collections, name: str) -> str:
    try:
        item_type = collections.get_item_type(name)
    except RuntimeError:
        raise PipelineSearchError("the KIM API has no installed item of this name",
                                  kim_id=name) from None
    for kind, type_name in _KIMPY_ITEM_TYPES.items():
        if str(item_type) == type_name:
            return kind
    raise PipelineSearchError(f"the KIM API reports unknown item type {item_type}", kim_id=name)


def _describe(collections, kind: str, name: str, with_metadata: bool) -> InstalledItem:
    library, collection = collections.get_item_library_file_name_and_collection(_item_type(kind), name)
    metadata = _read_kimspec(collections, kind, name) if with_metadata else None
    return InstalledItem(name, kind, _COLLECTION_WORDS[str(collection)], Path(library), metadata)


def _read_kimspec(collections, kind: str, name: str) -> dict | None:
    count = collections.cache_list_of_item_metadata_files(_item_type(kind), name)
    for index in range(count):
        file_name, _length, _raw, as_string, text = collections.get_item_metadata_file(index)
        if file_name == config.KIMSPEC_FILE and as_string:
            return edn.loads(text, path=config.KIMSPEC_FILE, kim_id=name)
    return None


def item_metadata(name: str) -> dict:
    """An installed item's kimspec.edn, parsed; PipelineFileMissing if the item carries none."""
    item = installed_item(name, with_metadata=True)
    if item.metadata is None:
        raise PipelineFileMissing(f"installed {item.kind} has no {config.KIMSPEC_FILE}",
                                  kim_id=name, path=item.library)
    return item.metadata


def metadata_species(name: str) -> list[str]:
    """The species a model declares in its metadata (cheap; the KIM API is asked no question)."""
    return list(item_metadata(name).get("species", []))
