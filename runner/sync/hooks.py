"""Where the pipeline meets the remote: before a run, after an outcome is kept, before a decision.

Each hook returns at once when RSYNC_ADDRESS is empty (one machine: nothing to pull or push).
"""

import logging

from repository.errors import PipelineError
from repository.models import Model, Status, Test, TestResult, latest_outcome
from runner.sync import pending, publish, transfers
from runner.sync.errors import PipelineSyncError
from runner.sync.remote import configured_remote

log = logging.getLogger("pipeline.sync")


def _kim_ids(*items) -> list[str]:
    return [item.kim_id for item in items if item is not None]


def _upstream_results(runner_item, model) -> list[str]:
    """The current results of the upstream pairs the runner's template reads (its folder pulled first)."""
    from runner.template.upstream import required_upstream

    try:
        pairs = required_upstream(runner_item, model)
    except PipelineError:
        return []  # the run itself reports what is missing
    outcomes = (latest_outcome(test, subject) for test, subject in pairs)
    return [o.kim_id for o in outcomes if isinstance(o, TestResult)]


def before_run(runner_item, model: Model) -> None:
    """Pull what one job needs and is not here: runner and driver, subject and driver, upstream results.

    When the remote cannot be reached but the runner's folder is already here, the run goes
    on with what is local; otherwise PipelineSyncError (the job's attempt fails and is retried).
    """
    remote = configured_remote()
    if remote is None:
        return
    under_review = model.status != Status.APPROVED
    try:
        transfers.pull_for_job(_kim_ids(runner_item, getattr(runner_item, "driver", None)),
                               _kim_ids(model, model.driver), under_review=under_review, remote=remote)
        # Test drivers share code beside them (the examples' ExampleDriverTools): all of td/,
        # of which only what is missing here travels.
        transfers.pull_folders("real-read", ["td"], remote=remote)
        upstream = _upstream_results(runner_item, model)
        if upstream:
            transfers.pull_items("real-read", upstream, remote=remote)
    except PipelineSyncError as exc:
        if not runner_item.path.is_dir():
            raise
        log.warning("%s × %s: running with the local copies, the remote did not answer: %s",
                    runner_item.kim_id, model.kim_id, exc)
    if not runner_item.path.is_dir():
        raise PipelineSyncError(f"{runner_item.kim_id} is neither here nor whole on the remote",
                                address=remote.address, area="real-read",
                                asked=f"pull for {runner_item.kim_id} × {model.kim_id}")


def after_keep(outcome):
    """Push a kept outcome to its write area; a failed push leaves it pending (never lost). Returns it."""
    remote = configured_remote()
    if remote is None or outcome is None:
        return outcome
    try:
        if not pending.push_outcome(outcome.kim_id, remote=remote):
            log.warning("%s kept here, not yet published: the next sync push sends it", outcome.kim_id)
    except Exception:  # noqa: BLE001 — the outcome is kept; a failed push must not fail its job
        log.exception("%s kept here; recording or pushing it for the remote failed", outcome.kim_id)
    return outcome


def before_decide(item) -> None:
    """The director's reads for a new or changed item: what it needs to decide the item's jobs."""
    remote = configured_remote()
    if remote is None:
        return
    try:
        if isinstance(item, Test):
            transfers.director_new_test(item.kim_id, remote=remote)
        elif isinstance(item, Model):
            if item.status == Status.APPROVED:
                transfers.director_new_model(item.kim_id, remote=remote)
            else:
                transfers.director_model_under_review(item.kim_id, remote=remote)
    except PipelineSyncError as exc:
        # The database decides; the folders pulled are what the runs will read.
        log.warning("director: deciding %s with the local repository: %s", item.kim_id, exc)


def after_approve(model: Model) -> None:
    """A model just approved: its verification results and its folder move to the real areas.

    A remote that does not answer leaves them where they are, said once with the command that
    finishes the move (``sync publish --approve``); the approval itself stands.
    """
    remote = configured_remote()
    if remote is None:
        return
    try:
        moved = publish.approve(model.kim_id, remote=remote)
        log.info("%s approved: moved to the real areas: %s", model.kim_id, ", ".join(moved))
    except PipelineSyncError as exc:
        log.warning("%s approved, but its folders are still in TEMP_*: %s; "
                    "`manage.py sync publish --approve %s` moves them", model.kim_id, exc,
                    model.kim_id)
