"""A run that died because the worker environment lacks a Python module: found in its stderr.

OpenKIM's drivers import what OpenKIM's image gives them (kim-tools, numdifftools, …). When a
runner exits non-zero on an ImportError / ModuleNotFoundError, the fault is the environment's,
not the model's or the test's: the run becomes an Error of category ``environment`` that names
the module, so a curator installs it (or the driver lists it in its requirements.txt) instead
of reading a traceback.
"""

import re
from pathlib import Path

# Python 3's two import failures, as the last line of a traceback prints them.
_MISSING_RE = re.compile(
    r"^(?:\S+\.)?(?P<kind>ModuleNotFoundError|ImportError): "
    r"(?:No module named '?(?P<module>[\w.]+)'?"
    r"|cannot import name '?(?P<name>[\w.]+)'? from '?(?P<source>[\w.]+)'?)",
    re.MULTILINE,
)
#: How much of the end of stderr is searched: the traceback that ended the run is there.
TAIL_BYTES = 64 * 1024
#: The last non-blank lines of stderr where the import failure must be.
LAST_LINES = 5


def missing_module(stderr_path: Path) -> str | None:
    """The message of an ``environment`` Error when stderr ends on an import failure, else None."""
    try:
        with open(stderr_path, "rb") as stream:
            stream.seek(0, 2)
            stream.seek(max(0, stream.tell() - TAIL_BYTES))
            text = stream.read().decode("utf-8", errors="replace")
    except OSError:
        return None
    # Only the traceback that ended the run counts: an import failure a driver caught and
    # printed long before it failed for another reason is not the environment's fault.
    ending = "\n".join([line for line in text.splitlines() if line.strip()][-LAST_LINES:])
    found = list(_MISSING_RE.finditer(ending))
    if not found:
        return None
    last = found[-1]  # the failure that ended the run; earlier ones may have been caught
    if last["module"]:
        return (f"the worker environment lacks the Python module {last['module']!r} "
                f"({last['kind']}: No module named {last['module']!r}); install it where tests "
                "run, or list it in the driver's requirements.txt")
    return (f"the worker environment's {last['source']!r} has no {last['name']!r} "
            f"(ImportError: cannot import name {last['name']!r} from {last['source']!r}); "
            "install the version the driver's requirements.txt asks for")
