"""The one EDN reader of the pipeline: kim_edn, with its file-name guess taken away.

``kim_edn.load`` treats a string that names an existing file as that file, so EDN text that
happens to be a path is read from disk. Here a file is read only through
``load(path)``, and ``loads`` refuses text that is merely the path of an existing file.
"""

from pathlib import Path

import kim_edn

from repository.errors import PipelineEDNError


def loads(text: str, *, path=None, kim_id=None):
    """Parse EDN ``text`` (str, or UTF-8 bytes); ``path`` (where the text came from) and ``kim_id`` go into errors."""
    name = Path(path).name if path is not None else "EDN text"
    if isinstance(text, bytes | bytearray):
        try:
            text = bytes(text).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise PipelineEDNError(f"{name} is not UTF-8 text: {exc}", path=path,
                                   kim_id=kim_id) from exc
    if not isinstance(text, str):
        raise PipelineEDNError(f"{name} is not text but {type(text).__name__}", path=path,
                               kim_id=kim_id)
    candidate = text.strip()
    if candidate and "\n" not in candidate and _names_a_file(candidate):
        raise PipelineEDNError(f"{name} is the path of a file ({candidate!r}), not EDN text; "
                               "read files with repository.edn.load", path=path, kim_id=kim_id)
    try:
        return kim_edn.loads(text)
    except RecursionError as exc:  # kim_edn's parser recurses once per level of nesting
        raise PipelineEDNError(f"{name} is nested too deeply to read", path=path,
                               kim_id=kim_id) from exc
    except ValueError as exc:  # KIMEDNDecodeError is a ValueError and knows its line
        raise PipelineEDNError(f"{name} is not valid EDN: {exc}", path=path, kim_id=kim_id,
                               line=getattr(exc, "lineno", None)) from exc


def load(path: Path, *, kim_id=None):
    """Read and parse the EDN file at ``path``."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise PipelineEDNError(f"{path.name} is not UTF-8 text: {exc}", path=path,
                               kim_id=kim_id) from exc
    except OSError as exc:
        raise PipelineEDNError(f"{path.name} cannot be read: {exc.strerror or exc}", path=path,
                               kim_id=kim_id) from exc
    return loads(text, path=path, kim_id=kim_id)


def _names_a_file(text: str) -> bool:
    try:
        return Path(text).is_file()
    except (OSError, ValueError):  # too long a name, a NUL byte: not a path kim_edn could open
        return False
