"""Render a runner's input template (2020 ``pipeline.stdin.tpl`` or 2012 ``pipeline.in``) for one model.

One jinja2 sandbox serves both syntaxes: 2012 directives are first translated into jinja2
expressions over the same globals, then rendered once. The modules, one job each:
``sandbox`` (the environment and its limits), ``syntax_2012`` (translation), ``units``
(``convert``), ``lookups`` and ``render_globals`` (what the globals read), ``deadline`` (the
time bound that shares ITIMER_REAL with django-q2), ``render`` and ``upstream`` (the pairs an
input needs, read with repository.dependencies).
"""

from runner.template.deadline import RenderTimeout
from runner.template.render import RenderedInput, render_input, render_text, template_path
from runner.template.sandbox import ENVIRONMENT
from runner.template.syntax_2012 import translate_2012
from runner.template.units import convert
from runner.template.upstream import missing_upstream, required_upstream

__all__ = ["ENVIRONMENT", "RenderTimeout", "RenderedInput", "convert", "missing_upstream",
           "render_input", "render_text", "required_upstream", "template_path", "translate_2012"]
