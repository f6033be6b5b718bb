"""Templates bounded at compile time too: every large-string builder, deep nesting, bad bytes."""

import time

import pytest

from repository.errors import PipelineTemplateError
from repository.models import Error
from runner.execute import run_pair
from runner.template.render import render_text
from tests.fixtures.runner.cast import made_test

pytestmark = [pytest.mark.django_db, pytest.mark.kimapi, pytest.mark.dbneutral]

BOMBS = [
    "@< ('%040000000d' % 1)|wordwrap(3) >@",
    "@< '%0200000000d' % 1 >@",
    "@< 'x'|center(200000000) >@",
    "@< 'x'.center(200000000) >@",
    "@< 'x'.ljust(200000000) >@",
    "@< '1'.zfill(200000000) >@",
    "@< '\\t'.expandtabs(200000000) >@",
    "@< '%*d' % (200000000, 1) >@",
    "@< '%.200000000f' % 1 >@",
    "@< '%(a)0200000000d' % {'a': 1} >@",
    "@< '%*d'|format(200000000, 1) >@",
    "@< '{:>200000000}'.format(1) >@",
    "@< '{:>{w}}'.format(1, w=200000000) >@",
    "@< '{a:>200000000}'.format_map({'a': 1}) >@",
    "@< range(20)|join('x'*9000000) >@",
    "@< ('x'*9000000).join(['a', 'b', 'c']) >@",
    "@< ('x'*5000000)|replace('x', 'yyyyy') >@",
    "@< ('x'*5000000).replace('', 'yyyyy') >@",
    "@< ('x\\n'*1000000)|indent(200) >@",
    "@[ for i in range(100000) ]@@[ for j in range(100000) ]@xxxxxxxxxx@[ endfor ]@@[ endfor ]@",
]


@pytest.fixture
def runner_item(model):
    return made_test("Bombs__TE_000000017001_000", {"pipeline.stdin.tpl": ""})


@pytest.mark.parametrize("source", BOMBS)
def test_a_template_that_builds_a_huge_string_is_a_template_error(runner_item, model, source,
                                                                  settings):
    settings.PIPELINE_RENDER_TIMEOUT = 20
    started = time.monotonic()
    with pytest.raises(PipelineTemplateError):
        render_text(source, runner_item, model, filename="pipeline.stdin.tpl")
    assert time.monotonic() - started < 20


def test_reasonable_widths_and_joins_still_render(runner_item, model):
    source = ("@< '%08.3f' % 3.14159 >@ @< 'ab'|center(6) >@ @< '{:>5}'.format(7) >@ "
              "@< [1, 2]|join(',') >@ @< 'a-b'|replace('-', '+') >@ @< '%*d' % (4, 2) >@")
    assert render_text(source, runner_item, model).text == " ".join(
        ["0003.142", "  ab  ", "    7", "1,2", "a+b", "   2"])


def test_a_rendered_input_above_the_limit_is_a_template_error(runner_item, model, settings):
    settings.PIPELINE_RENDERED_INPUT_LIMIT = 1000
    with pytest.raises(PipelineTemplateError, match="PIPELINE_RENDERED_INPUT_LIMIT"):
        render_text("@[ for i in range(500) ]@@< i >@ @[ endfor ]@", runner_item, model)


@pytest.mark.parametrize(("number", "template"), [
    (2, b"\xff\xfe@< MODELNAME >@\n"),
    (3, ("@[ if true ]@" * 3000 + "x" + "@[ endif ]@" * 3000).encode()),
    (4, ("@< " + "(" * 5000 + "1" + ")" * 5000 + " >@").encode()),
    (5, ("@< " + "[" * 5000 + "]" * 5000 + " >@").encode()),
])
def test_a_malformed_template_is_a_template_error_of_its_run(model, number, template):
    test = made_test(f"BadTemplate{number}__TE_00000001700{number}_000",
                     {"pipeline.stdin.tpl": template, "runner": "#!/bin/sh\nexit 0\n"})
    outcome = run_pair(test, model)
    assert isinstance(outcome, Error) and outcome.category == Error.Category.TEMPLATE, (
        getattr(outcome, "category", outcome), getattr(outcome, "message", ""))
