"""Any KIM ID to its row (the seed's ``kim_obj``), by exact ID parts, never a LIKE scan."""

from repository import kimcodes
from repository.errors import PipelineSearchError
from repository.models.items import (
    Model,
    ModelDriver,
    Property,
    ReferenceDatum,
    Test,
    TestDriver,
    VerificationCheck,
)
from repository.models.outcomes import Error, Outcome, TestResult, VerificationResult

#: Leader → Django model, for kim_obj() and the importer.
MODEL_FOR_LEADER = {
    "TE": Test,
    "TD": TestDriver,
    "MO": Model,
    "SM": Model,
    "MD": ModelDriver,
    "PR": Property,
    "RD": ReferenceDatum,
    "VC": VerificationCheck,
    "TR": TestResult,
    "VR": VerificationResult,
    "ER": Error,
}


def kim_obj(text: str):
    """The item or result any KIM ID names (the seed's ``kim_obj``); no version → latest.

    Items: by leader, number and version (and the name when given). Results and errors carry
    no name: by their exact ``kim_id`` (a name in ``text`` is ignored).
    """
    code = kimcodes.parse_kim_code(text)
    try:
        model_class = MODEL_FOR_LEADER[code.leader]
    except KeyError:
        raise PipelineSearchError(f"no kind of item has leader {code.leader}", kim_id=text) from None
    if issubclass(model_class, Outcome):
        item = model_class.objects.matching_code(str(code.with_name(None))).order_by("-kim_id").first()
        if item is None:
            raise PipelineSearchError(f"no {model_class._meta.verbose_name} {text}", kim_id=text)
        return item
    return model_class.objects.filter(leader=code.leader).resolve(text)
