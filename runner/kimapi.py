"""The real KIM API through kimpy: what is installed where, what an item declares, what a model supports.

Listing and metadata are read in-process (read-only, milliseconds); before each read this process's
``KIM_API_CONFIGURATION_FILE`` is pointed at the pipeline's collection and the KIM API log is
silenced. Creating a model runs foreign code that may crash or hang, so it happens in a worker
subprocess (``python -m runner.kimapi``), one per batch, restarted past a model that kills it.
"""

import ctypes
import json
import logging
import os
import selectors
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from kimsite import config
from repository.errors import PipelineError, PipelineFileMissing, PipelineSearchError

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
#: Seconds a worker may spend on one model before it is taken for hung, and to start.
WORKER_SECONDS_PER_MODEL = 20
WORKER_STARTUP_SECONDS = 30


class KIMAPIWorkerError(PipelineError):
    """The KIM API worker subprocess failed in a way that is not one model's fault."""


@dataclass(frozen=True)
class InstalledItem:
    """One item a KIM API collection holds."""

    name: str
    kind: str  # portable-model | simulator-model | model-driver
    collection: str  # system | user | environment | CWD
    library: Path
    #: kimspec.edn, parsed; None when the item has none (the KIM API's own examples).
    metadata: dict | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class ModelCheck:
    """What creating one model in the KIM API showed."""

    name: str
    loads: bool
    species: tuple[str, ...] = ()
    error: str = ""

    def supports(self, symbols: Iterable[str]) -> bool:
        held = {s.lower() for s in self.species}
        return self.loads and all(s.lower() in held for s in symbols)


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
    import kim_edn

    count = collections.cache_list_of_item_metadata_files(_item_type(kind), name)
    for index in range(count):
        file_name, _length, _raw, as_string, text = collections.get_item_metadata_file(index)
        if file_name == config.KIMSPEC_FILE and as_string:
            return kim_edn.loads(text)
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


# --- What a model supports: asked of the KIM API in a worker subprocess ------------------------

def supported_species(name: str) -> list[str]:
    """The species the KIM API says a model supports, by creating the model."""
    check = check_models([name])[name]
    if not check.loads:
        raise PipelineError(f"the KIM API cannot create this model: {check.error}", kim_id=name)
    return list(check.species)


def model_loads(name: str) -> bool:
    return check_models([name])[name].loads


def check_models(names: Iterable[str]) -> dict[str, ModelCheck]:
    """Create each model (portable or simulator) in a worker subprocess and report what it supports.

    One process serves the whole batch (starting Python and kimpy costs ~0.5 s, a model ~10 ms).
    If a model crashes the worker, that model is reported as not loading and a fresh worker
    carries on with the rest: the 2012 pipeline forked per pair for the same reason.
    Unknown names raise PipelineSearchError before any process starts.
    """
    wanted = list(dict.fromkeys(names))
    known = {item.name: item.kind for item in installed_items()}
    unknown = [name for name in wanted if name not in known]
    if unknown:
        raise PipelineSearchError(f"the KIM API has no installed model named {', '.join(unknown)}",
                                  kim_id=unknown[0])
    not_models = [name for name in wanted if known[name] == "model-driver"]
    if not_models:
        raise PipelineSearchError("a model driver is not a model", kim_id=not_models[0])
    results: dict[str, ModelCheck] = {}
    pending = wanted
    while pending:
        answered, failure = _run_worker(pending)
        results.update(answered)
        pending = [name for name in pending if name not in results]
        if pending and failure is None:
            raise KIMAPIWorkerError(f"the KIM API worker ended without answering for {len(pending)} "
                                    "models", kim_id=pending[0])
        if pending:
            # The worker works in order: the first unanswered model is the one that killed it.
            culprit = pending.pop(0)
            log.warning("creating %s killed the KIM API worker: %s", culprit, failure)
            results[culprit] = ModelCheck(culprit, loads=False, error=failure)
    return results


def _run_worker(names: list[str]) -> tuple[dict[str, ModelCheck], str | None]:
    """One worker for ``names``: its answers, and why it stopped early (None if it did not)."""
    env = subprocess_environment()
    env["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(config.KIM_PIPELINE_DIR), env.get("PYTHONPATH", "")) if p)
    answered: dict[str, ModelCheck] = {}
    with tempfile.TemporaryDirectory(prefix="kimapi-worker-") as scratch:
        # The scratch folder is the worker's CWD: kim.log lands there, and the "CWD" collection
        # it searches is empty. stderr goes to a file: a chatty model cannot fill a pipe.
        stderr_path = Path(scratch) / "worker.stderr"
        # The names go in a file, not a pipe: a long list must not block while answers pile up.
        names_path = Path(scratch) / "models.txt"
        names_path.write_text("\n".join(names) + "\n", encoding="utf-8")
        with open(stderr_path, "w") as stderr_file:
            process = subprocess.Popen(
                [sys.executable, "-m", "runner.kimapi", str(names_path)], stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE, stderr=stderr_file, cwd=scratch, env=env,
                start_new_session=True,
            )
            finished, ready = _read_answers(process, answered)
            hung = not finished
            if hung:
                os.killpg(process.pid, signal.SIGKILL)
            code = process.wait()
        if not ready:
            # No model is to blame when the worker cannot even start (kimpy missing, bad path).
            stderr = stderr_path.read_text(errors="replace").strip()[-1000:]
            raise KIMAPIWorkerError(f"the KIM API worker did not start (status {code}): {stderr}")
        if code == 0 and not hung:
            return answered, None
        kim_log = Path(scratch) / config.KIM_LOG_FILE
        tail = kim_log.read_text(errors="replace")[-800:].strip() if kim_log.is_file() else ""
        if hung:
            reason = f"the KIM API worker gave no answer for {WORKER_SECONDS_PER_MODEL} s (killed)"
        elif code < 0:
            reason = f"the KIM API worker died with signal {-code}"
        else:
            stderr = stderr_path.read_text(errors="replace").strip()[-500:]
            reason = f"the KIM API worker exited with status {code}: {stderr}"
        return answered, f"{reason}; kim.log: {tail}" if tail else reason


def _read_answers(process, answered: dict) -> tuple[bool, bool]:
    """Collect JSON lines until the worker ends: (False if a model took too long, whether it started).

    Reads the raw pipe (no buffered readline): lines already received must not wait unseen in a
    buffer while select() waits for the next one, or the wrong model would be blamed for a hang.
    """
    fd = process.stdout.fileno()
    selector = selectors.DefaultSelector()
    selector.register(fd, selectors.EVENT_READ)
    deadline, ready, pending = WORKER_STARTUP_SECONDS, False, b""
    while True:
        if not selector.select(timeout=deadline):
            return False, ready
        chunk = os.read(fd, 65536)
        if not chunk:
            return True, ready
        *lines, pending = (pending + chunk).split(b"\n")
        for line in lines:
            try:
                record = json.loads(line)
            except ValueError:
                continue  # a line cut short by a crash: its model counts as unanswered
            deadline = WORKER_SECONDS_PER_MODEL
            if "ready" in record:
                ready = True  # started: from here on each model has its own time limit
                continue
            answered[record["name"]] = ModelCheck(record["name"], record["loads"],
                                                  tuple(record["species"]), record["error"])


def _worker_main(names_file: str) -> int:
    """Read model names from a file; write one JSON line per model to the original stdout."""
    protocol = os.fdopen(os.dup(1), "w", buffering=1)
    # Models may print; keep the protocol channel clean by sending fd 1 to stderr.
    os.dup2(2, 1)
    import kimpy

    species_names = [kimpy.species_name.get_species_name(i)
                     for i in range(kimpy.species_name.get_number_of_species_names())]
    collections = kimpy.collections.create()
    protocol.write(json.dumps({"ready": True}) + "\n")
    for line in Path(names_file).read_text(encoding="utf-8").splitlines():
        name = line.strip()
        if not name:
            continue
        try:
            kind = str(collections.get_item_type(name))
            if kind == "simulatorModel":
                species = _simulator_model_species(kimpy, name)
            else:
                species = _portable_model_species(kimpy, name, species_names)
            record = {"name": name, "loads": True, "species": species, "error": ""}
        except RuntimeError as exc:
            record = {"name": name, "loads": False, "species": [], "error": str(exc) or repr(exc)}
        protocol.write(json.dumps(record) + "\n")
    protocol.close()
    return 0


def _portable_model_species(kimpy, name: str, species_names) -> list[str]:
    accepted, model = kimpy.model.create(
        kimpy.numbering.zeroBased, kimpy.length_unit.A, kimpy.energy_unit.eV,
        kimpy.charge_unit.e, kimpy.temperature_unit.K, kimpy.time_unit.ps, name)
    supported = []
    for species in species_names:
        is_supported, _code = model.get_species_support_and_code(species)
        if is_supported:
            supported.append(str(species))
    return supported


def _simulator_model_species(kimpy, name: str) -> list[str]:
    simulator_model = kimpy.simulator_model.create(name)
    count = simulator_model.get_number_of_supported_species()
    return [simulator_model.get_supported_species(i) for i in range(count)]


if __name__ == "__main__":
    sys.exit(_worker_main(sys.argv[1]))
