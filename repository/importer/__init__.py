"""Import item folders of a KIM repository (2012 ``metadata.json`` or 2020 ``kimspec.edn``) into the database.

Each item is read and checked in full before anything is written; a bad item is rejected alone.
The modules, by job: ``spec`` (what a folder says), ``checks`` (single values), ``read_2020`` and
``read_2012`` (the two formats), ``reading`` (one folder), ``writing`` (rows and folder of one
item, the items_imported signal), ``walk`` (a whole repository, in dependency order).
"""

from repository.importer.reading import check_symlinks, read_item
from repository.importer.spec import IMPORT_ORDER, MODEL_FOR_FOLDER, ItemSpec
from repository.importer.walk import ImportReport, import_repository, item_folders
from repository.importer.writing import import_item

__all__ = ["IMPORT_ORDER", "MODEL_FOR_FOLDER", "ImportReport", "ItemSpec", "check_symlinks",
           "import_item", "import_repository", "item_folders", "read_item"]
