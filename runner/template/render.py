"""Rendering a runner's input template for one model, bounded in time, errors with file and line."""

import logging
import traceback
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import jinja2
from django.conf import settings
from jinja2.exceptions import SecurityError, TemplateSyntaxError

from repository.errors import PipelineDataMissing, PipelineError, PipelineTemplateError
from runner import formats
from runner.template.deadline import deadline
from runner.template.render_globals import RenderState
from runner.template.sandbox import ENVIRONMENT
from runner.template.syntax_2012 import translate_2012

logger = logging.getLogger("pipeline.template")


@dataclass
class RenderedInput:
    """A rendered input and the results (KIM IDs) the template read to make it."""

    text: str
    upstream: list[str] = field(default_factory=list)


def template_path(runner_item) -> Path:
    return Path(runner_item.path) / formats.of(runner_item).template_file


def _line_of(exc: BaseException, filename: str) -> int | None:
    line = getattr(exc, "lineno", None)
    for frame, lineno in traceback.walk_tb(exc.__traceback__):
        if frame.f_code.co_filename == filename:
            line = lineno
    return line


def _bounded_render(template, context: dict, filename: str) -> str:
    """Render piece by piece, refusing an input above PIPELINE_RENDERED_INPUT_LIMIT characters."""
    limit, size, pieces = settings.PIPELINE_RENDERED_INPUT_LIMIT, 0, []
    for piece in template.generate(context):
        size += len(piece)
        if size > limit:
            raise PipelineTemplateError(f"the rendered input is longer than "
                                        f"PIPELINE_RENDERED_INPUT_LIMIT ({limit} characters)",
                                        path=filename)
        pieces.append(piece)
    return "".join(pieces)


#: Templates longer than this (characters) are compiled at each render, not kept.
COMPILED_KEPT_UP_TO = 64 * 1024


def _compile(source: str, syntax: str, filename: str):
    text = translate_2012(source, filename) if syntax == "2012" else source
    return ENVIRONMENT.compile(text, name=filename, filename=filename)


_compile_kept = lru_cache(maxsize=128)(_compile)


def _compiled(source: str, syntax: str, filename: str):
    """The Python code jinja2 compiles a template to. A test's template is rendered once per
    model, and compiling it (parse, code generation, Python's compile) is most of a render:
    the same text compiles to the same code, so a worker compiles it once (what fails, a
    syntax error or the deadline, raises and is not kept; a huge template is not kept)."""
    kept = _compile_kept if len(source) <= COMPILED_KEPT_UP_TO else _compile
    return kept(source, syntax, filename)


def render_text(source: str, runner_item, model, *, syntax: str = "2020",
                filename: str = "<template>") -> RenderedInput:
    """Render template text for (runner_item, model); ``syntax`` "2012" translates directives first.

    The render is bounded by settings.PIPELINE_RENDER_TIMEOUT (RenderTimeout), keeping any alarm
    already pending (django-q2's task timeout).
    """
    state = RenderState(runner_item, model)
    try:
        # One deadline around translating, compiling and rendering: jinja2 does work while it
        # compiles too, and a template nested thousands deep takes long to parse.
        with deadline(settings.PIPELINE_RENDER_TIMEOUT, filename):
            code = _compiled(source, syntax, filename)
            template = ENVIRONMENT.template_class.from_code(ENVIRONMENT, code,
                                                            ENVIRONMENT.make_globals(None))
            rendered = _bounded_render(template, state.globals(), filename)
    except PipelineDataMissing:
        raise
    except PipelineTemplateError as exc:
        if exc.line is None:
            raise type(exc)(exc.reason, path=filename, kim_id=exc.kim_id,
                            line=_line_of(exc, filename)) from exc
        raise
    except TemplateSyntaxError as exc:
        raise PipelineTemplateError(f"template syntax: {exc.message}", path=filename,
                                    line=exc.lineno) from exc
    except SecurityError as exc:
        raise PipelineTemplateError(f"refused by the sandbox: {exc}", path=filename,
                                    line=_line_of(exc, filename)) from exc
    except MemoryError as exc:
        raise PipelineTemplateError("rendering ran out of memory", path=filename) from exc
    except (PipelineError, jinja2.TemplateError, ArithmeticError, LookupError, TypeError,
            ValueError, AttributeError, RecursionError, OverflowError) as exc:
        reason = getattr(exc, "reason", None) or f"{type(exc).__name__}: {exc}"
        raise PipelineTemplateError(reason, path=filename, line=_line_of(exc, filename)) from exc
    logger.debug("rendered %s for %s × %s (%d upstream)", filename, runner_item.kim_id,
                 model.kim_id, len(state.upstream))
    return RenderedInput(rendered, state.upstream)


def render_input(runner_item, model) -> RenderedInput:
    """The rendered input of ``runner_item`` (a Test or VerificationCheck) for ``model``."""
    path = template_path(runner_item)
    try:
        source = path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise PipelineTemplateError(f"the input template {path.name} is missing", path=path,
                                    kim_id=runner_item.kim_id) from exc
    except UnicodeDecodeError as exc:
        raise PipelineTemplateError(f"the input template is not UTF-8: {exc}", path=path,
                                    kim_id=runner_item.kim_id) from exc
    return render_text(source, runner_item, model, syntax=formats.of(runner_item).syntax,
                       filename=str(path))
