"""What a model supports, asked of the KIM API by creating it in a worker subprocess.

Creating a model runs foreign code that may crash or hang, so it happens in a worker subprocess
(``WORKER_COMMAND``), one per batch, restarted past a model that kills it.
"""

import json
import os
import selectors
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings

from kimsite import config
from repository.errors import PipelineError, PipelineSearchError
from repository.kimapi.catalog import installed_items, log, subprocess_environment

#: The worker's entry point (``-c`` rather than ``-m``: the package imports this module first).
WORKER_COMMAND = ("import sys; from repository.kimapi.worker import _worker_main; "
                  "sys.exit(_worker_main(sys.argv[1]))")


class KIMAPIWorkerError(PipelineError):
    """The KIM API worker subprocess failed in a way that is not one model's fault."""


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
                [sys.executable, "-c", WORKER_COMMAND, str(names_path)], stdin=subprocess.DEVNULL,
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
            reason = (f"the KIM API worker gave no answer for "
                      f"{settings.KIM_API_WORKER_SECONDS_PER_MODEL} s (killed)")
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
    deadline, ready, pending = settings.KIM_API_WORKER_STARTUP_SECONDS, False, b""
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
            deadline = settings.KIM_API_WORKER_SECONDS_PER_MODEL
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

