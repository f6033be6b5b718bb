"""What an item folder says, checked, before anything touches the database; kind folders."""

from dataclasses import dataclass, field
from pathlib import Path

from repository import kimcodes
from repository.models import (
    KIMItem,
    Model,
    ModelDriver,
    Property,
    ReferenceDatum,
    Test,
    TestDriver,
    VerificationCheck,
)

#: Kind folders in import order: what others point at (drivers, properties) comes first.
IMPORT_ORDER = ("pr", "td", "md", "rd", "mo", "sm", "te", "vc")

#: Kind folder → Django model of its items.
MODEL_FOR_FOLDER = {
    "te": Test,
    "td": TestDriver,
    "mo": Model,
    "sm": Model,
    "md": ModelDriver,
    "vc": VerificationCheck,
    "rd": ReferenceDatum,
    "pr": Property,
}


@dataclass
class ItemSpec:
    """What an item folder says, checked, before anything touches the database."""

    folder: Path
    code: kimcodes.KIMCode
    model_class: type[KIMItem]
    fields: dict
    status: str | None = None
    driver: str | None = None
    #: Upstream tests as written (repository.dependencies.Upstream.test), in order, once each.
    dependencies: list[str] = field(default_factory=list)
    property_id: str | None = None
    #: Symlinks leaving the item (inside the repository): copied as files.
    leaving_links: list[Path] = field(default_factory=list)
