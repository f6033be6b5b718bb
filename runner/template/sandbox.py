"""The jinja2 sandbox every input template renders in (both syntaxes), with the KIM delimiters."""

import json

import kim_edn
from django.conf import settings
from jinja2 import StrictUndefined
from jinja2.exceptions import SecurityError
from jinja2.sandbox import ImmutableSandboxedEnvironment

from repository import kimcodes


class PipelineSandbox(ImmutableSandboxedEnvironment):
    """The sandbox plus limits on ``*`` and ``**``, which the stock sandbox lets run unbounded.

    The limits are settings (PIPELINE_TEMPLATE_MAX_SEQUENCE, PIPELINE_TEMPLATE_MAX_EXPONENT):
    a memory or CPU bomb in a template is a template fault, not the worker's death.
    """

    intercepted_binops = frozenset(["*", "**"])

    def call_binop(self, context, operator, left, right):
        if operator == "*":
            longest = settings.PIPELINE_TEMPLATE_MAX_SEQUENCE
            for seq, count in ((left, right), (right, left)):
                if isinstance(seq, (str, list, tuple)) and isinstance(count, int):
                    if len(seq) * count > longest:
                        raise SecurityError(f"a sequence longer than {longest} is refused")
        if operator == "**" and isinstance(right, (int, float)):
            largest = settings.PIPELINE_TEMPLATE_MAX_EXPONENT
            if abs(right) > largest:
                raise SecurityError(f"an exponent above {largest} is refused")
        return super().call_binop(context, operator, left, right)


def _make_environment() -> PipelineSandbox:
    # No loader: {% include %}, {% import %} and {% extends %} cannot reach any file.
    env = PipelineSandbox(
        variable_start_string="@<", variable_end_string=">@",
        block_start_string="@[", block_end_string="]@",
        comment_start_string="@#", comment_end_string="#@",
        undefined=StrictUndefined, autoescape=False, keep_trailing_newline=True,
    )
    env.filters["json"] = lambda value: json.dumps(value)
    env.filters["edn"] = lambda value: kim_edn.dumps(value)
    env.filters["stripversion"] = kimcodes.strip_version
    return env


ENVIRONMENT = _make_environment()
