"""The director: which (runner, model) pairs an imported, updated or approved item calls for.

Plain functions over the database, split by job: ``decide`` (which of the pairs asked for
need a job, with their upstream pairs), ``fanout`` (the pairs an item calls for; approval),
``release`` (waiting jobs released, downstream pairs re-run when an upstream lands). It
never imports runner.jobs: runner.jobs calls it, and both send jobs through runner.dispatch.
"""

from repository.errors import (
    DependencyCycle,
    DependencyTooDeep,
    PipelineDependencyError,
    PipelineError,
)
from runner.director.decide import (
    SubmitReport,
    check_dependency_graph,
    downstream_tests,
    higher,
    max_dependency_depth,
    parse_priority,
    submit_pairs,
    upstream_map,
    upstream_tests,
)
from runner.director.fanout import (
    CHECKS_ON_APPROVED,
    approve_model,
    on_item_changed,
    pairs_for_item,
    submit,
    submit_all,
    verification_pending,
)
from runner.director.release import release_waiting, upstream_changed, waiting_on

__all__ = [
    "CHECKS_ON_APPROVED", "DependencyCycle", "DependencyTooDeep", "PipelineDependencyError", "PipelineError",
    "SubmitReport", "approve_model", "check_dependency_graph", "downstream_tests", "higher",
    "max_dependency_depth", "on_item_changed", "pairs_for_item", "parse_priority",
    "release_waiting", "submit", "submit_all", "submit_pairs", "upstream_changed",
    "upstream_map", "upstream_tests", "verification_pending", "waiting_on",
]
