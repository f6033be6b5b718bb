"""No runner can read the worker's secrets, reach the network, write outside its scratch folder,
outlive its job or exceed its limits: real hostile runners under real bubblewrap."""

import ast
import hashlib
import os
import socket
import uuid
from pathlib import Path

import pytest

from kimsite import config
from repository import storage
from repository.models import Error

pytestmark = [pytest.mark.django_db, pytest.mark.kimapi, pytest.mark.dbneutral]

PROJECT = Path(__file__).resolve().parents[2]


def report(outcome) -> str:
    assert isinstance(outcome, Error), f"the hostile runner ended as {outcome!r}"
    return outcome.stdout_tail


def test_a_runner_cannot_read_the_database_settings_or_the_secret_key(hostile, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", "postgres://postgres:hunter2@127.0.0.1:5432/test")
    monkeypatch.setenv("SECRET_KEY", "the-signing-key")
    secret = config.KIM_DIR / "secret_key"
    secret.write_text("the-machine-secret")
    secrets = [secret, config.KIM_DIR / "kimsite.sqlite3", PROJECT / "var" / "secret_key",
               PROJECT / "kimsite" / "settings.py"]
    outcome = hostile(f"""
for name in ("DATABASE_URL", "SECRET_KEY", "KIM_DIR", "KIM_REPOSITORY_DIR", "REDIS_URL",
             "DJANGO_SETTINGS_MODULE"):
    print(("ESCAPED env " if name in os.environ else "BLOCKED env ") + name)
print("ESCAPED env value" if "hunter2" in repr(os.environ) else "BLOCKED env value")
for path in {[str(p) for p in secrets]!r}:
    try:
        open(path, "rb").read()
        print("ESCAPED read", path)
    except OSError as exc:
        print("BLOCKED read", path, exc.errno)
sys.exit(1)
""")
    seen = report(outcome)
    assert "ESCAPED" not in seen and seen.count("BLOCKED") == 7 + len(secrets), seen


def test_a_runner_cannot_reach_the_network(hostile):
    # A listener of this process on the loopback: the worker reaches it, the runner must not.
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    socket.create_connection(("127.0.0.1", port), timeout=5).close()
    try:
        outcome = hostile(f"""
for port in (5432, 6379, {port}):
    try:
        socket.create_connection(("127.0.0.1", port), timeout=3).close()
        print("ESCAPED connect", port)
    except OSError as exc:
        print("BLOCKED connect", port, exc)
try:
    socket.getaddrinfo("openkim.org", 443)
    print("ESCAPED dns")
except OSError:
    print("BLOCKED dns")
sys.exit(1)
""")
    finally:
        listener.close()
    seen = report(outcome)
    assert "ESCAPED" not in seen and seen.count("BLOCKED") == 4, seen


def test_a_runner_cannot_write_outside_its_scratch_folder(hostile, tmp_path):
    marker = uuid.uuid4().hex
    own_runner = storage.item_path("Hostile__TE_000000015900_000") / "runner"
    targets = [own_runner, config.KIM_REPOSITORY_DIR / "tr" / "TR_999999999999_000" / "x",
               config.KIM_DIR / marker, tmp_path / marker, PROJECT / marker,
               Path("/tmp") / marker]
    outcome = hostile(f"""
for path in {[str(p) for p in targets]!r}:
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "a") as handle:
            handle.write("echo pwned\\n")
        print("WROTE", path)
    except OSError as exc:
        print("BLOCKED write", path, exc.errno)
sys.exit(1)
""")
    seen = report(outcome)
    assert seen.count("BLOCKED") + seen.count("WROTE") == len(targets), seen
    # /tmp is the run's own: writing there is allowed and leaves nothing on the machine.
    assert not own_runner.read_text().endswith("echo pwned\n")
    assert not (config.KIM_REPOSITORY_DIR / "tr" / "TR_999999999999_000").exists()
    for path in targets[2:]:
        assert not path.exists(), path


def test_nothing_a_runner_starts_outlives_its_job(hostile):
    marker = str(10_000 + uuid.uuid4().int % 10_000)
    outcome = hostile(f"""
subprocess.Popen(["setsid", "sleep", "{marker}"], start_new_session=True,
                 stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
subprocess.run(["sh", "-c", "(env -i setsid nohup sleep {marker} >/dev/null 2>&1 &) ; exit 0"])
if os.fork() == 0:  # a daemon the classic way
    os.setsid()
    if os.fork() == 0:
        time.sleep({marker})
    os._exit(0)
time.sleep(0.5)
print("STARTED")
sys.exit(1)
""")
    assert "STARTED" in report(outcome)
    alive = []
    for entry in os.listdir("/proc"):
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as handle:
                if marker.encode() in handle.read():
                    alive.append(entry)
        except OSError:
            continue
    assert alive == [], f"processes of the run outlived it: {alive}"


def test_a_runner_cannot_exceed_its_memory_limit(hostile, settings):
    settings.RUNNER_MEMORY_LIMIT = 1024 ** 3
    outcome = hostile("""
block = bytearray(3 * 1024 ** 3)  # 3 GiB, three times the limit
print("ESCAPED allocated", len(block))
""")
    assert outcome.category == Error.Category.RESOURCE, (outcome.category, outcome.message)
    assert "RUNNER_MEMORY_LIMIT" in outcome.message and "ESCAPED" not in outcome.stdout_tail


def test_a_fork_bomb_stops_at_the_process_limit(hostile, settings):
    settings.RUNNER_PROCESS_LIMIT = 40
    outcome = hostile("""
children = [subprocess.Popen(["sleep", "30"]) for _ in range(200)]
print("ESCAPED started", len(children))
""")
    assert outcome.category == Error.Category.RESOURCE, (outcome.category, outcome.message)
    assert "RUNNER_PROCESS_LIMIT" in outcome.message and "ESCAPED" not in outcome.stdout_tail


def test_a_file_above_the_size_limit_is_a_resource_error(hostile, settings):
    settings.RUNNER_FILE_SIZE_LIMIT = 1024 ** 2
    outcome = hostile("""
with open("output/big", "wb") as handle:
    handle.write(b"x" * (5 * 1024 ** 2))
print("ESCAPED wrote 5 MiB")
""")
    assert outcome.category == Error.Category.RESOURCE, (outcome.category, outcome.message)
    assert "RUNNER_FILE_SIZE_LIMIT" in outcome.message


def test_an_output_folder_above_its_limit_is_a_resource_error(hostile, settings):
    settings.RUNNER_OUTPUT_FOLDER_LIMIT = 1024 ** 2
    outcome = hostile("""
for number in range(20):  # 20 files of 100 KiB: each small, together 2 MiB
    with open(f"output/part{number}", "wb") as handle:
        handle.write(b"x" * 102400)
""")
    assert outcome.category == Error.Category.RESOURCE, (outcome.category, outcome.message)
    assert "RUNNER_OUTPUT_FOLDER_LIMIT" in outcome.message


def test_a_runner_runs_as_an_unprivileged_user_without_capabilities(hostile):
    outcome = hostile("""
status = open("/proc/self/status").read()
print("UID", os.getuid(), "CAPS", [l.split()[1] for l in status.splitlines() if l.startswith("CapEff")][0])
print("PIDS", sorted(int(p) for p in os.listdir("/proc") if p.isdigit()))
sys.exit(1)
""")
    seen = report(outcome)
    assert "UID 65534 CAPS 0000000000000000" in seen, seen
    # Its own PID namespace: it sees no process of the machine; fresh, it is pid 1; warm, it is
    # the fork beside its shim (pid 1), which hands its process to the warm server.
    assert ("PIDS [1, 2]" if hostile.mode == "warm" else "PIDS [1]") in seen.splitlines(), seen


def test_a_runner_sees_only_the_allowlisted_part_of_etc_read_only(hostile):
    """/etc is one read-only copy (runner.sandbox_etc) of the allowlisted entries that every
    user may read: the loader's cache and passwd are there, nothing else, and no private key."""
    from runner.sandbox_etc import ETC_ENTRIES

    private = [str(p) for p in Path("/etc/ssl/private").glob("*")] if os.access(
        "/etc/ssl/private", os.R_OK) else []
    loader = hashlib.sha256(Path("/etc/ld.so.cache").read_bytes()).hexdigest()
    outcome = hostile(f"""
print("ENTRIES", sorted(os.listdir("/etc")))
import hashlib
print("LOADER", hashlib.sha256(open("/etc/ld.so.cache", "rb").read()).hexdigest() == {loader!r})
print("PASSWD", "root:" in open("/etc/passwd").read())
for path in ["/etc/shadow", "/etc/ssl/private", *{private!r}]:
    print(("ESCAPED " if os.path.exists(path) else "BLOCKED ") + path)
try:
    open("/etc/written", "w").write("x")
    print("ESCAPED write")
except OSError as exc:
    print("BLOCKED write", exc.errno)
sys.exit(1)
""")
    seen = report(outcome)
    entries = ast.literal_eval(next(line for line in seen.splitlines()
                                    if line.startswith("ENTRIES"))[len("ENTRIES "):])
    assert set(entries) <= set(ETC_ENTRIES) and {"passwd", "ld.so.cache"} <= set(entries), entries
    assert "LOADER True" in seen and "PASSWD True" in seen, seen
    assert "ESCAPED" not in seen and "BLOCKED write" in seen, seen
