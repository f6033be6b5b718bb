"""2012 ``pipeline.in`` directives translated into jinja2 expressions over the same globals."""

import json
import re

from kimsite import config
from repository import kimcodes
from repository.errors import PipelineTemplateError

_DIRECTIVE_2012_RE = re.compile(
    r"@(?P<name>MODELNAME|TESTNAME)\b"
    r"|@PATH\[(?P<path>[^\]\n]*)\]"
    r"|@DATA(?P<data>(?:\[[^\]\n]*\]){1,3})"
    r"|@FILE\[[^\]\n]*\]"
)
_JINJA_START_RE = re.compile(r"@[<\[#]")


def _argument_2012(text: str, directive: str, line: int, filename: str) -> str:
    text = text.strip()
    if text in ("@MODELNAME", "@TESTNAME"):
        return text[1:]
    if not kimcodes.is_kim_code(text):
        raise PipelineTemplateError(f"{directive}: {text!r} is not a KIM ID", path=filename, line=line)
    return json.dumps(text)


def translate_2012(source: str, filename: str = config.INPUT_FILE) -> str:
    """A 2012 ``pipeline.in`` as a jinja2 template of the sandbox's syntax (same line numbers)."""
    pieces, position = [], 0

    def literal(text: str) -> None:
        if _JINJA_START_RE.search(text):
            if "endraw" in text:
                raise PipelineTemplateError("text that looks like template syntax cannot be kept",
                                            path=filename, line=source.count("\n", 0, position) + 1)
            pieces.append(f"@[ raw ]@{text}@[ endraw ]@")
        else:
            pieces.append(text)

    for match in _DIRECTIVE_2012_RE.finditer(source):
        literal(source[position:match.start()])
        position = match.end()
        line = source.count("\n", 0, match.start()) + 1
        if match["name"]:
            pieces.append(f"@< {match['name']} >@")
        elif match["path"] is not None:
            argument = _argument_2012(match["path"], "@PATH", line, filename)
            pieces.append(f"@< path({argument}) >@")
        elif match["data"]:
            parts = re.findall(r"\[([^\]]*)\]", match["data"])
            arguments = ", ".join(_argument_2012(p, "@DATA", line, filename) for p in parts)
            pieces.append(f"@< kim2012_data({arguments}) >@")
        else:
            # @FILE[...] marks a file in the results, not input: it passes through as text.
            literal(match.group(0))
    literal(source[position:])
    return "".join(pieces)
