"""A template that reads an upstream test it does not declare waits for it: import → submit → run."""

import pytest

from repository import importer
from repository.models import Error, Test, TestResult
from runner import director, jobs
from runner.models import Job
from tests import factories
from tests.fixtures.pipeline import items

pytestmark = pytest.mark.django_db


def test_a_template_reading_an_undeclared_upstream_waits_for_it(repository_dir, tmp_path):
    log = tmp_path / "executions.log"
    model = factories.make_model(factories.AR_MODELS[0])
    up = factories.kim_id("Lattice_Ar", "TE", 1)
    down = factories.kim_id("Elastic_Ar", "TE", 2)
    factories.write_runner_folder(repository_dir / "te" / up, up, log=log)
    folder = factories.write_runner_folder(repository_dir / "te" / down, down, log=log)
    # No dependencies.edn: the only mention of the upstream is the template's query.
    (folder / "pipeline.stdin.tpl").write_text(
        "@< MODELNAME >@\n"
        f'@< get_test_result(["{up}"], [MODELNAME], ["structure-cubic-crystal-npt"], ["a"]) >@\n')

    importer.import_repository()
    downstream = Test.objects.get(kim_id=down)
    assert [t.kim_id for t in downstream.depends_on.all()] == [up]

    director.on_item_changed(downstream, dispatch=False)
    waiting = Job.objects.for_pair(down, model.kim_id).get()
    assert (waiting.state, waiting.blocked_on) == (Job.State.WAITING, [up])

    summary = jobs.run_pending(progress=False)

    assert summary["TR"] == 2, summary
    assert [runner for runner, _ in items.executions(log)] == [up, down]
    assert not Error.objects.exists()
    assert TestResult.objects.filter(test__kim_id=down, stale=False).count() == 1
