"""The real KIM API through kimpy: what is installed (``catalog``) and what a model supports (``worker``).

This is the read side of the KIM API, so matching and the importer use it from ``repository``;
building items into the pipeline's collection is ``runner.install``'s job.
"""

from repository.kimapi.catalog import (  # noqa: F401
    COLLECTION_FOLDERS,
    InstalledItem,
    api_dir,
    collection_dir,
    configuration_file,
    installed_item,
    installed_items,
    item_metadata,
    kim_api_version,
    metadata_species,
    subprocess_environment,
)
from repository.kimapi.worker import (  # noqa: F401
    KIMAPIWorkerError,
    ModelCheck,
    check_models,
    model_loads,
    supported_species,
)
