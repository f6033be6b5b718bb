"""Transfers against a real rsync daemon and a real sshd: pulls, pushes, publication."""

import filecmp

import pytest
from django.core.management import call_command

from repository.errors import InvalidKIMID
from runner.sync import pending, transfers
from runner.sync import publish as pub
from runner.sync.checks import check_rsync_address
from runner.sync.errors import PipelineSyncError
from runner.sync.remote import AddressError, parse_address
from tests.sync.conftest import make_item

TE = "BulkModulus_Ar__TE_000000000001_000"
TD = "BulkModulusDriver__TD_000000000002_000"
MO = "LJ_Ar__MO_000000000003_000"
MO2 = "LJ_Ne__MO_000000000004_000"
TR = "TR_000000000005_000"
VR = "VR_000000000006_000"


def area(daemon, name):
    return daemon.root / "repo" / name


@pytest.mark.parametrize("text", ["rsync://host/", "rsync://ho st/m", "rsync://h:99999/m", "host:/path",
                                  "user@host/x", "ftp://host/m"])
def test_a_malformed_address_is_named(text):
    with pytest.raises(AddressError, match="RSYNC_ADDRESS|GLOBAL_PORT"):
        parse_address(text)


def test_addresses_parse():
    assert parse_address("") is None
    daemon = parse_address("rsync://example.org:8730/kim", root="r")
    assert (daemon.kind, daemon.port, daemon.module) == ("daemon", 8730, "kim")
    ssh = parse_address("pipeline@example.org", port=2222)
    assert (ssh.kind, ssh.user, ssh.port) == ("ssh", "pipeline", 2222)


def test_manage_check_reports_a_malformed_address(settings):
    settings.RSYNC_ADDRESS = "rsync://nohost"
    errors = check_rsync_address()
    assert [e.id for e in errors] == ["runner.sync.E001"] and "rsync://nohost" in errors[0].msg
    settings.RSYNC_ADDRESS = ""
    assert check_rsync_address() == []


def test_kim_ids_that_leave_the_repository_are_refused():
    for text in ("../etc", "/etc/passwd", "te/../../x", "TE_000000000001"):
        with pytest.raises(InvalidKIMID):
            transfers.item_path(text)


def test_pull_for_job_takes_only_what_is_missing(daemon, repository_dir):
    for kim_id in (TE, TD, MO):
        make_item(area(daemon, "real-read"), kim_id)
    make_item(area(daemon, "temp-read"), MO2)
    report = transfers.pull_for_job([TE, TD], [MO])
    assert sorted(report.pulled) == sorted([TE, TD, MO]) and not report.refused
    for kim_id, leader in ((TE, "te"), (TD, "td"), (MO, "mo")):
        assert not filecmp.dircmp(repository_dir / leader / kim_id,
                                  area(daemon, "real-read") / leader / kim_id).diff_files
    again = transfers.pull_for_job([TE, TD], [MO])
    assert again.pulled == [] and sorted(again.present) == sorted([TE, TD, MO])
    review = transfers.pull_for_job([TE], [MO2], under_review=True)
    assert review.pulled == [MO2] and (repository_dir / "mo" / MO2 / "kimspec.edn").is_file()
    assert not (repository_dir / transfers.STAGING).exists()


def test_a_remote_folder_without_its_marker_is_not_taken(daemon, repository_dir):
    folder = make_item(area(daemon, "real-read"), TE)
    (folder / "kimspec.edn").unlink()
    report = transfers.pull_folders("real-read", ["te"])
    assert report.incomplete == [TE] and report.pulled == []
    assert not (repository_dir / "te" / TE).exists()


def test_director_reads(daemon, repository_dir):
    for kim_id in (TE, MO, MO2):
        make_item(area(daemon, "real-read"), kim_id)
    make_item(area(daemon, "real-read"), "VC_000000000007_000")
    assert sorted(transfers.director_new_test(TE).pulled) == sorted([TE, MO, MO2])
    assert transfers.director_model_under_review(MO).pulled == ["VC_000000000007_000"]


@pytest.mark.django_db
def test_push_publish_and_a_fresh_node_sees_the_results(daemon, repository_dir, tmp_path):
    make_item(repository_dir, TR, files={"results.edn": "{}\n", "sub/output.log": "x" * 1000})
    make_item(repository_dir, VR)
    assert pending.push_outcome(TR) and pending.push_outcome(VR)
    assert not pending.waiting().exists()
    assert (area(daemon, "real-write") / "tr" / TR / "sub" / "output.log").is_file()
    assert (area(daemon, "temp-write") / "vr" / VR / "kimspec.edn").is_file()
    assert pub.publish() == [TR]
    assert (area(daemon, "real-read") / "tr" / TR / "kimspec.edn").is_file()
    assert not (area(daemon, "real-write") / "tr" / TR / "kimspec.edn").exists()
    fresh = tmp_path / "fresh-node"
    report = transfers.pull_folders("real-read", ["tr"], into=fresh)
    assert report.pulled == [TR]
    assert not filecmp.dircmp(fresh / "tr" / TR, repository_dir / "tr" / TR).diff_files


@pytest.mark.django_db
def test_approval_moves_the_model_and_its_verification_results(daemon, repository_dir):
    make_item(area(daemon, "temp-read"), MO2)
    folder = make_item(repository_dir, VR)
    (folder / "kimspec.edn").write_text(f'{{"kim-code" "{VR}" "model" "{MO2}"}}\n')
    assert pending.push_outcome(VR)
    assert sorted(pub.approve(MO2)) == sorted([VR, MO2])
    assert (area(daemon, "real-read") / "vr" / VR / "kimspec.edn").is_file()
    assert (area(daemon, "real-read") / "mo" / MO2 / "kimspec.edn").is_file()
    assert not (area(daemon, "temp-read") / "mo" / MO2 / "kimspec.edn").exists()


@pytest.mark.django_db
def test_sync_command_pull_push_status(daemon, repository_dir, capsys):
    make_item(area(daemon, "real-read"), TE)
    make_item(repository_dir, TR)
    call_command("sync", "pull", "--no-import")
    assert (repository_dir / "te" / TE / "kimspec.edn").is_file()
    call_command("sync", "push")
    call_command("sync", "status")
    out = capsys.readouterr().out
    assert daemon.address in out and "real-read" in out and "te/ 1" in out
    assert "waiting to be pushed: 0" in out


@pytest.mark.django_db
def test_over_ssh_pull_and_push(sshd, repository_dir):
    make_item(sshd / "real-read", TE)
    assert transfers.pull_items("real-read", [TE]).pulled == [TE]
    make_item(repository_dir, TR)
    assert pending.push_outcome(TR)
    assert (sshd / "real-write" / "tr" / TR / "kimspec.edn").is_file()
    assert not filecmp.dircmp(sshd / "real-write" / "tr" / TR, repository_dir / "tr" / TR).diff_files


@pytest.mark.django_db
def test_the_marker_travels_only_in_the_second_call(daemon, repository_dir, monkeypatch):
    """The data call really runs; the marker call is made to fail (a fake, to reach this edge)."""
    from runner.sync import rsync
    real_run = rsync.run

    def run(remote, args, **kw):
        if kw["asked"].endswith("(marker)"):
            raise PipelineSyncError("marker call refused by the test", exit_code=30, transient=True)
        return real_run(remote, args, **kw)

    monkeypatch.setattr(rsync, "run", run)
    make_item(repository_dir, TR, files={"a.txt": "a\n", "b/c.txt": "c\n"})
    assert pending.push_outcome(TR) is False
    remote = area(daemon, "real-write") / "tr" / TR
    assert (remote / "b" / "c.txt").is_file() and not (remote / "kimspec.edn").exists()
    assert [r.outcome_kim_id for r in pending.waiting()] == [TR]
    monkeypatch.setattr(rsync, "run", real_run)
    assert pending.push_pending() == ([TR], {})
    assert (remote / "kimspec.edn").is_file()
