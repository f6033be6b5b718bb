"""A dict bound to a JSON file, written atomically (the seed's persistentdict)."""

import json
from pathlib import Path

from repository.storage import atomic_write_text


class PersistentDict(dict):
    """``flag``: ``r`` read-only, ``c`` create or load, ``n`` start empty whatever is on disk."""

    def __init__(self, filename, flag: str = "c", mode: int | None = None):
        super().__init__()
        if flag not in {"r", "c", "n"}:
            raise ValueError(f"flag must be 'r', 'c' or 'n', not {flag!r}")
        self.path = Path(filename)
        self.flag = flag
        self.mode = mode
        if flag != "n" and self.path.exists():
            try:
                self.update(json.loads(self.path.read_text(encoding="utf-8")))
            except (ValueError, TypeError) as exc:
                raise ValueError(f"{self.path} is not a JSON object: {exc}") from exc

    def sync(self) -> None:
        if self.flag == "r":
            return
        atomic_write_text(self.path, json.dumps(self, indent=4, sort_keys=True) + "\n", self.mode)

    close = sync

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()
