"""KIM items and the outcomes of running them, as Django models over the on-disk repository.

Split by job: ``items`` (what exists), ``outcomes`` (what runs left), ``current`` (the one
definition of a pair's latest and current outcome), ``provenance`` (where and what the KIM API
said), ``lookups`` (any KIM ID to its row). Import from here: ``from repository.models import X``.
"""

from repository.models.current import (
    RUNNER_FIELDS,
    OutcomeQuerySet,
    current_outcome_keys,
    latest_outcome,
    outcome_key,
    outcome_tables,
)
from repository.models.items import (
    ItemQuerySet,
    KIMItem,
    Model,
    ModelDriver,
    Property,
    ReferenceDatum,
    RunsOnModels,
    SimulatorModel,
    SourceFormat,
    Status,
    Test,
    TestDriver,
    VerificationCheck,
)
from repository.models.lookups import MODEL_FOR_LEADER, kim_obj
from repository.models.outcomes import Error, Outcome, PropertyValue, TestResult, VerificationResult
from repository.models.provenance import ApprovalDecision, MatchVerdict, WorkerEnvironment

__all__ = [
    "MODEL_FOR_LEADER", "RUNNER_FIELDS", "ApprovalDecision", "Error", "ItemQuerySet", "KIMItem", "MatchVerdict", "Model", "ModelDriver",
    "Outcome", "OutcomeQuerySet", "Property", "PropertyValue", "ReferenceDatum", "RunsOnModels",
    "SimulatorModel", "SourceFormat", "Status", "Test", "TestDriver", "TestResult",
    "VerificationCheck", "VerificationResult", "WorkerEnvironment", "current_outcome_keys",
    "kim_obj", "latest_outcome", "outcome_key", "outcome_tables",
]
