"""Two worker nodes and a real remote: the round trip of issue 9.

A director node pulls a new test from REAL_READ (``sync pull``: import, jobs submitted); two
``manage.py qcluster`` nodes, each with its own KIM_DIR, KIM_REPOSITORY_DIR and
PIPELINE_NODE_NAME, share PostgreSQL, Redis and an rsync daemon; they pull what each job needs,
run it on real installed KIM API models and push every outcome to REAL_WRITE. ``sync publish``
moves them to REAL_READ, and a third fresh node that only pulls finds them all.

No network namespaces: every server listens on 127.0.0.1, and the nodes share nothing but
PostgreSQL, Redis and the remote (each its own folders and environment).
"""

import filecmp
import json
import os
import shutil
import subprocess
import time
import uuid
from pathlib import Path

import pytest

from tests.fixtures.pipeline.site import (
    PYTHON,
    PipelineSite,
    drop_postgres_database,
    postgres_admin,
    postgres_unreachable,
    redis_unreachable,
    redis_url,
)
from tests.sync.conftest import RsyncDaemon

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.slow, pytest.mark.kimapi]

PROJECT = Path(__file__).resolve().parents[2]
EXAMPLES = PROJECT / "examples" / "repository"
TEST = "LatticeConstantCubicEnergy_fcc_Ar__TE_024934012965_000"
#: What the remote offers the director: the new test, its drivers, the properties it writes.
OFFERED = [f"te/{TEST}", "td/LatticeConstantCubicEnergy__TD_475411767977_000",
           "td/ExampleDriverTools__TD_818771893529_000",
           "pr/structure_cubic_crystal_npt__PR_110425337914_000",
           "pr/cohesive_potential_energy_cubic_crystal__PR_110425337915_000"]
MODELS = ["LJ_Shifted_Bernardes_1958HighCutoff_Ar__MO_242741380554_004",
          "LJ_Shifted_Bernardes_1958LowCutoff_Ar__MO_720819638419_004",
          "LJ_Shifted_Bernardes_1958MedCutoff_Ar__MO_126566794224_004",
          "Morse_Shifted_Jelinek_1972_Ar__MO_831902330215_004"]


class Nodes:
    """Pipeline nodes over one PostgreSQL database, one Redis cluster name and one remote."""

    def __init__(self, base: Path, remote: RsyncDaemon, database: str):
        self.base, self.remote, self.sites = base, remote, {}
        self.shared = {"DATABASE_URL": database, "REDIS_URL": redis_url(),
                       "Q_CLUSTER_NAME": f"kimsync{uuid.uuid4().hex[:10]}",
                       "RSYNC_ADDRESS": remote.address, "RSYNC_REMOTE_ROOT": "repo",
                       "RSYNC_RETRIES": "2", "RSYNC_BACKOFF": "0.5", "RSYNC_TIMEOUT": "30"}

    def site(self, name: str) -> PipelineSite:
        if name not in self.sites:
            site = PipelineSite(self.base / name, job_timeout=240, retry=300)
            site.env.update(self.shared, PIPELINE_NODE_NAME=name, Q_WORKERS="1")
            self.sites[name] = site
        return self.sites[name]

    def step(self, name: str, *args: str) -> dict:
        done = subprocess.run([PYTHON, "-m", "tests.sync.node", *args], cwd=PROJECT,
                              env=self.site(name).env, capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, done.stderr[-3000:]
        return json.loads(done.stdout.strip().splitlines()[-1])

    def start_worker(self, name: str) -> PipelineSite:
        site = self.site(name)
        site.start_cluster(name)
        return site

    def wait_until_running(self, *names: str) -> None:
        """As many clusters as ``names`` keep their statistics in Redis (django-q2's Stat)."""
        import redis

        client = redis.Redis.from_url(redis_url())
        pattern = f"django_q:{self.shared['Q_CLUSTER_NAME']}:cluster:*"
        self.site(names[0]).wait_for(lambda: len(list(client.scan_iter(pattern))) >= len(names),
                                     timeout=120, every=0.2, what=f"clusters {', '.join(names)} running")

    def offer_new_test(self) -> Path:
        """The director's database knows the models; the remote offers the new test and its drivers."""
        self.site("director").manage("migrate", "--noinput")
        assert self.step("director", "models", *MODELS)["models"] == sorted(MODELS)
        real_read = self.remote.root / "repo" / "real-read"
        for path in OFFERED:
            shutil.copytree(EXAMPLES / path, real_read / path)
        return real_read

    def report_when_done(self, jobs: int) -> dict:
        def all_done():
            report = self.step("director", "report")
            states = [j["state"] for j in report["jobs"]]
            return report if len(states) == jobs and set(states) == {"done"} else None

        return self.site("director").wait_for(all_done, timeout=600, every=2, what="every job done")

    def stop_all(self):
        for site in self.sites.values():
            site.stop_all()


@pytest.fixture
def nodes(tmp_path):
    for reason in (postgres_unreachable(), redis_unreachable()):
        if reason:
            pytest.fail(f"{reason}: the multi-node test needs the real server")
    name = f"kimsync_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    postgres_admin(f'CREATE DATABASE "{name}"')
    remote = RsyncDaemon(tmp_path)
    remote.start()
    for area in ("real-read", "real-write", "temp-read", "temp-write"):
        (remote.root / "repo" / area).mkdir(parents=True)
    group = Nodes(tmp_path, remote, f"postgres://postgres@127.0.0.1:5432/{name}")
    yield group
    group.stop_all()
    remote.stop()
    remote.remove()
    drop_postgres_database(name)
    import redis

    client = redis.Redis.from_url(redis_url())
    for key in client.scan_iter(f"*{group.shared['Q_CLUSTER_NAME']}*"):
        client.delete(key)


def folders(root: Path, leader: str) -> set[str]:
    path = root / leader
    return {p.name for p in path.iterdir() if (p / "kimspec.edn").is_file()} if path.is_dir() else set()


def test_two_nodes_compute_a_new_test_from_the_remote_and_a_fresh_node_sees_every_result(nodes):
    started = time.monotonic()
    real_read = nodes.offer_new_test()
    director = nodes.site("director")
    # The workers start with empty repositories: whatever they run, they pulled.
    workers = {name: nodes.start_worker(name) for name in ("alpha", "beta")}
    nodes.wait_until_running(*workers)
    setup_seconds = time.monotonic() - started

    out = director.manage("sync", "pull", "--area", "real-read")
    assert "import: 5 created" in out and f"{len(MODELS)} jobs submitted" in out, out
    report = nodes.report_when_done(len(MODELS))
    compute_seconds = time.monotonic() - started - setup_seconds
    assert report["errors"] == [] and len(report["results"]) == len(MODELS), report
    publications = {p["outcome_kim_id"]: p for p in report["publications"]}
    assert set(publications) == set(report["results"])
    assert {p["state"] for p in publications.values()} == {"published"}, publications
    by_node = {name: {k for k, p in publications.items() if p["node"] == name} for name in workers}
    assert by_node["alpha"] | by_node["beta"] == set(report["results"])
    assert by_node["alpha"] and by_node["beta"], f"one node computed everything: {by_node}"

    real_write = nodes.remote.root / "repo" / "real-write"
    for name, site in workers.items():
        local = Path(site.env["KIM_REPOSITORY_DIR"])
        # It pulled the test and the drivers, nothing its runs do not read (no properties).
        assert folders(local, "te") == {TEST} and not folders(local, "pr")
        for kim_id in by_node[name]:
            comparison = filecmp.dircmp(real_write / "tr" / kim_id, local / "tr" / kim_id)
            assert not (comparison.diff_files or comparison.left_only or comparison.right_only), kim_id
    assert folders(real_write, "tr") == set(report["results"])

    out = director.manage("sync", "publish")
    assert f"published {len(MODELS)}" in out, out
    assert folders(real_read, "tr") == set(report["results"])
    assert folders(real_write, "tr") == set()

    fresh = nodes.site("gamma")
    out = fresh.manage("sync", "pull", "--no-import")
    assert folders(Path(fresh.env["KIM_REPOSITORY_DIR"]), "tr") == set(report["results"]), out
    total_seconds = time.monotonic() - started
    print(f"\nround trip: {len(report['jobs'])} jobs, {len(report['results'])} results "
          f"(alpha {len(by_node['alpha'])}, beta {len(by_node['beta'])}), all pushed whole and "
          f"published; setup {setup_seconds:.1f} s, compute+push {compute_seconds:.1f} s, "
          f"total {total_seconds:.1f} s")


@pytest.mark.parametrize("repeat", range(2))
def test_the_daemon_stopped_mid_run_then_started_again_loses_no_result(nodes, repeat):
    started = time.monotonic()
    nodes.offer_new_test()
    worker = nodes.start_worker("alpha")
    nodes.wait_until_running("alpha")
    nodes.site("director").manage("sync", "pull", "--area", "real-read")
    scratch = Path(worker.env["KIM_DIR"]) / "scratch"
    # Mid-run: a runner's scratch folder exists, so it pulled its inputs and is computing.
    worker.wait_for(lambda: any(scratch.glob(f"*/{TEST}__*")), timeout=300, every=0.05,
                    what="a run in progress")
    nodes.remote.stop()
    stopped = time.monotonic()
    report = nodes.report_when_done(len(MODELS))
    finished = time.monotonic()
    assert report["errors"] == [] and len(report["results"]) == len(MODELS), report
    publications = {p["outcome_kim_id"]: p for p in report["publications"]}
    assert set(publications) == set(report["results"]), "a result without its publication row"
    waiting = {k for k, p in publications.items() if p["state"] == "pending"}
    assert waiting, "every push went through although the daemon was down"
    for kim_id in waiting:
        assert nodes.remote.address in publications[kim_id]["last_error"]
    assert f"not yet pushed to the remote: {len(waiting)}" in worker.manage("pipelinestatus")
    real_write = nodes.remote.root / "repo" / "real-write"
    half = {p.name for p in (real_write / "tr").glob("*") if p.name in waiting} if (real_write / "tr").is_dir() else set()
    assert not (folders(real_write, "tr") & waiting), "a folder marked whole before its push ended"

    nodes.remote.start()
    restarted = time.monotonic()
    out = worker.manage("sync", "push")
    assert f"pushed {len(waiting)}, still waiting 0" in out, out
    assert folders(real_write, "tr") == set(report["results"])
    local = Path(worker.env["KIM_REPOSITORY_DIR"])
    for kim_id in report["results"]:
        comparison = filecmp.dircmp(real_write / "tr" / kim_id, local / "tr" / kim_id)
        assert not (comparison.diff_files or comparison.left_only or comparison.right_only), kim_id
    after = {p["outcome_kim_id"]: p for p in nodes.step("director", "report")["publications"]}
    assert {p["state"] for p in after.values()} == {"published"} and set(after) == set(publications)
    print(f"\ndaemon stopped mid-run: {len(MODELS)} jobs done, {len(waiting)} results waited "
          f"({len(half)} partial folders without marker left on the remote, then completed), "
          f"0 lost; the rest pushed before the stop; stopped {stopped - started:.1f} s after the "
          f"start, jobs done {finished - stopped:.1f} s later, sync push took "
          f"{time.monotonic() - restarted:.1f} s")
