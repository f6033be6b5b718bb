"""The jinja2 sandbox every input template renders in (both syntaxes), with the KIM delimiters."""

import json
import re
import string
from functools import update_wrapper

import kim_edn
from django.conf import settings
from jinja2 import StrictUndefined, filters
from jinja2.exceptions import SecurityError
from jinja2.sandbox import ImmutableSandboxedEnvironment

from repository import kimcodes

#: String methods whose first argument is the length of the string they build.
WIDTH_METHODS = frozenset(["center", "ljust", "rjust", "zfill", "expandtabs"])
#: A printf conversion's width and precision (``%*d``, ``%0200000000d``, ``%.9999999f``).
PERCENT_SPEC_RE = re.compile(r"%(?:\([^)]*\))?[#0\- +]*(\*|\d+)?(?:\.(\*|\d+))?[hlL]?[a-zA-Z%]")


def longest() -> int:
    return settings.PIPELINE_TEMPLATE_MAX_SEQUENCE


def refuse_longer(length: int, what: str) -> None:
    if length > longest():
        raise SecurityError(f"{what} longer than {longest()} characters is refused")


def _ints(args, kwargs) -> list[int]:
    values = list(args) + list(kwargs.values())
    values += [v for a in args if isinstance(a, dict | list | tuple)
               for v in (a.values() if isinstance(a, dict) else a)]
    return [v for v in values if isinstance(v, int) and not isinstance(v, bool)]


def check_percent(text: str, args) -> None:
    """Refuse ``text % args`` when a width or precision (given or ``*``) is above the limit."""
    starred = False
    for width, precision in PERCENT_SPEC_RE.findall(text):
        for number in (width, precision):
            if number == "*":
                starred = True
            elif number:
                refuse_longer(int(number), "a %-format width")
    if starred:
        for value in _ints(args if isinstance(args, tuple) else (args,), {}):
            refuse_longer(abs(value), "a %-format width")


def check_format(text: str, args, kwargs) -> None:
    """Refuse ``text.format(...)`` when a field's width or precision is above the limit."""
    nested = False
    try:
        fields = list(string.Formatter().parse(text))
    except ValueError:
        return  # str.format raises the same ValueError itself
    for _literal, _name, spec, _conversion in fields:
        if spec:
            nested = nested or "{" in spec
            for number in re.findall(r"\d+", spec):
                refuse_longer(int(number), "a format width")
    if nested:
        for value in _ints(args, kwargs):
            refuse_longer(abs(value), "a format width")


def check_call(method, args, kwargs) -> None:
    """The string a str method would build, bounded before it is built."""
    owner, name = getattr(method, "__self__", None), getattr(method, "__name__", "")
    if not isinstance(owner, str):
        return
    if name in WIDTH_METHODS:
        for value in _ints(args[:1], kwargs):
            refuse_longer(value, f"str.{name}")
    elif name == "join" and args:
        items = args[0] if isinstance(args[0], list | tuple) else None
        if items is not None:
            refuse_longer(sum(len(i) for i in items if isinstance(i, str))
                          + len(owner) * len(items), "str.join")
    elif name == "replace" and len(args) >= 2 and isinstance(args[1], str):
        old = args[0] if isinstance(args[0], str) else ""
        refuse_longer(len(owner) + len(args[1]) * (owner.count(old) if old else len(owner) + 1),
                      "str.replace")


class PipelineSandbox(ImmutableSandboxedEnvironment):
    """The sandbox plus limits on every way to build a large string or number.

    The stock sandbox lets ``*``, ``**``, ``%``, ``str.center`` and friends, ``format`` widths
    and ``join`` run unbounded. The limits are settings (PIPELINE_TEMPLATE_MAX_SEQUENCE,
    PIPELINE_TEMPLATE_MAX_EXPONENT): a memory or CPU bomb in a template is a template fault.
    """

    intercepted_binops = frozenset(["*", "**", "%"])

    def call_binop(self, context, operator, left, right):
        if operator == "*":
            for seq, count in ((left, right), (right, left)):
                if isinstance(seq, str | list | tuple) and isinstance(count, int):
                    refuse_longer(len(seq) * count, "a sequence")
        if operator == "**" and isinstance(right, int | float):
            largest = settings.PIPELINE_TEMPLATE_MAX_EXPONENT
            if abs(right) > largest:
                raise SecurityError(f"an exponent above {largest} is refused")
        if operator == "%" and isinstance(left, str):
            check_percent(left, right)
        return super().call_binop(context, operator, left, right)

    def call(__self, __context, __obj, *args, **kwargs):  # noqa: N805 (jinja2's own signature)
        check_call(__obj, args, kwargs)
        return super().call(__context, __obj, *args, **kwargs)

    def wrap_str_format(self, value):
        wrapped = super().wrap_str_format(value)
        if wrapped is None:
            return None
        text, is_map = value.__self__, value.__name__ == "format_map"

        def checked(*args, **kwargs):
            check_format(text, () if is_map else args, (args[0] if is_map and args else kwargs))
            return wrapped(*args, **kwargs)
        return update_wrapper(checked, value)


def _bounded_filters() -> dict:
    """jinja2's filters that build strings of a length their arguments choose, bounded."""
    def center(value, width=80):
        refuse_longer(int(width), "center")
        return filters.do_center(value, width)

    def indent(value, width=4, *args, **kwargs):
        if isinstance(width, int):
            refuse_longer(width * (str(value).count("\n") + 1), "indent")
        return filters.do_indent(value, width, *args, **kwargs)

    def format_(value, *args, **kwargs):
        check_percent(str(value), args or kwargs)
        return filters.do_format(value, *args, **kwargs)

    def join(eval_ctx, value, d="", attribute=None):
        items = list(value)
        refuse_longer(sum(len(i) for i in items if isinstance(i, str)) + len(str(d)) * len(items),
                      "join")
        return filters.sync_do_join(eval_ctx, items, d, attribute)

    def replace(eval_ctx, s, old, new, count=None):
        text = str(s)
        check_call(text.replace, (str(old), str(new)), {})
        return filters.do_replace(eval_ctx, s, old, new, count)

    join.jinja_pass_arg = filters.sync_do_join.jinja_pass_arg
    replace.jinja_pass_arg = filters.do_replace.jinja_pass_arg
    return {"center": center, "indent": indent, "format": format_, "join": join,
            "replace": replace}


def _make_environment() -> PipelineSandbox:
    # No loader: {% include %}, {% import %} and {% extends %} cannot reach any file.
    # optimized=False: no constant folding while compiling, so every expression is evaluated
    # under the render's deadline and limits ('%040000000d' % 1 folded at compile hung a worker).
    env = PipelineSandbox(
        variable_start_string="@<", variable_end_string=">@",
        block_start_string="@[", block_end_string="]@",
        comment_start_string="@#", comment_end_string="#@",
        undefined=StrictUndefined, autoescape=False, keep_trailing_newline=True,
        optimized=False,
    )
    env.filters.update(_bounded_filters())
    env.filters["json"] = lambda value: json.dumps(value)
    env.filters["edn"] = lambda value: kim_edn.dumps(value)
    env.filters["stripversion"] = kimcodes.strip_version
    return env


ENVIRONMENT = _make_environment()
