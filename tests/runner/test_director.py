"""The director: fan-out by kind of item, latest versions only, dependencies as a graph."""

import pytest
from django.db import IntegrityError, connection, transaction
from django.test.utils import CaptureQueriesContext

from repository.models import Error, Model, ModelDriver, Status, TestDriver, TestResult
from runner import director, jobs
from runner.models import Job
from tests.fixtures.pipeline import items

pytestmark = pytest.mark.django_db


def jobs_of(runner):
    return Job.objects.filter(runner_kim_id=runner.kim_id)


def test_new_test_fans_out_to_every_matching_approved_model(repository_dir):
    items.ar_models(5)
    items.make_model(items.AR_MODELS[5], status=Status.PENDING)
    test = items.make_test(repository_dir, "NoOp_Ar", 1)

    report = director.on_item_changed(test, dispatch=False)

    # Every approved installed argon model, known without asking the matcher.
    assert {j.subject_kim_id for j in jobs_of(test)} == set(items.AR_MODELS[:5])
    assert len(report.jobs) == report.queued == 5
    assert items.AR_MODELS[5] not in {j.subject_kim_id for j in jobs_of(test)}


def test_pending_model_runs_only_checks_and_approval_runs_the_rest(repository_dir):
    test = items.make_test(repository_dir, "NoOp_Ar", 1)
    check = items.make_check(repository_dir, "NoOpCheck", 2)
    model = items.make_model(items.AR_MODELS[0], status=Status.PENDING)

    director.on_item_changed(model, dispatch=False)
    assert list(Job.objects.values_list("runner_kim_id", flat=True)) == [check.kim_id]

    approved, report = director.approve_model(model)
    assert not approved, "checks have not run yet: the model stays pending"
    assert "stays pending" in str(report)
    model.refresh_from_db()
    assert model.status == Status.PENDING

    # The check's job finishes (its result lands), then approval goes through.
    assert jobs.run_job(Job.objects.get(runner_kim_id=check.kim_id).pk,
                        dispatch_released=False) == "done"
    approved, report = director.approve_model(model)
    assert approved
    model.refresh_from_db()
    assert model.status == Status.APPROVED
    assert [j.runner_kim_id for j in report.jobs] == [test.kim_id]


def test_approved_model_runs_every_matching_test_and_check(repository_dir):
    tests = [items.make_test(repository_dir, f"NoOp{i}_Ar", i) for i in range(1, 4)]
    check = items.make_check(repository_dir, "NoOpCheck", 9)
    model = items.make_model(items.AR_MODELS[0])

    report = director.on_item_changed(model, dispatch=False)

    assert {j.runner_kim_id for j in report.jobs} == {t.kim_id for t in tests} | {check.kim_id}


def test_pair_with_current_result_is_left_alone_unless_forced(repository_dir):
    model = items.make_model(items.AR_MODELS[0])
    test = items.make_test(repository_dir, "NoOp_Ar", 1)
    director.on_item_changed(test, dispatch=False)
    jobs.run_job(jobs_of(test).get().pk, dispatch_released=False)

    again = director.on_item_changed(test, dispatch=False)
    assert (len(again.jobs), again.up_to_date) == (0, 1)

    TestResult.objects.update(stale=True)
    assert len(director.on_item_changed(test, dispatch=False).jobs) == 1, "stale is not current"
    Job.objects.all().delete()
    TestResult.objects.update(stale=False)
    forced = director.on_item_changed(test, force=True, dispatch=False)
    assert [j.subject_kim_id for j in forced.jobs] == [model.kim_id]
    assert forced.jobs[0].force


def test_only_latest_versions_run(repository_dir):
    items.ar_models(2)
    old = items.make_test(repository_dir, "NoOp_Ar", 1, 0)
    new = items.make_test(repository_dir, "NoOp_Ar", 1, 1)
    old_model = Model.objects.get(kim_id=items.AR_MODELS[0])
    items.make_model(items.AR_MODELS[0].replace("_004", "_005"))

    assert director.on_item_changed(old, dispatch=False).jobs == []
    subjects = {j.subject_kim_id for j in director.on_item_changed(new, dispatch=False).jobs}
    assert old_model.kim_id not in subjects
    # The _005 row is latest but not installed in the KIM API, so it cannot run: only the other.
    assert subjects == {items.AR_MODELS[1]}


def test_new_test_driver_reruns_its_tests_even_with_current_results(repository_dir):
    items.ar_models(2)
    driver = TestDriver.objects.create(kim_id="NoOpDriver__TD_000000000077_000")
    tests = [items.make_test(repository_dir, f"Driven{i}_Ar", i) for i in (1, 2)]
    unrelated = items.make_test(repository_dir, "Other_Ar", 3)
    for test in tests:
        test.driver = driver
        test.save()
    director.on_item_changed(tests[0], dispatch=False)
    for job in Job.objects.all():
        jobs.run_job(job.pk, dispatch_released=False)

    report = director.on_item_changed(driver, dispatch=False)

    assert len(report.jobs) == 4
    assert {j.runner_kim_id for j in report.jobs} == {t.kim_id for t in tests}
    assert unrelated.kim_id not in {j.runner_kim_id for j in report.jobs}


def test_new_model_driver_reruns_the_models_built_on_it(repository_dir):
    driven, other = items.ar_models(2)
    driver = ModelDriver.objects.create(kim_id="LJ_Bench__MD_000000000088_000")
    driven.driver = driver
    driven.save()
    test = items.make_test(repository_dir, "NoOp_Ar", 1)
    check = items.make_check(repository_dir, "NoOpCheck", 2)

    report = director.on_item_changed(driver, dispatch=False)

    assert {(j.subject_kim_id, j.force) for j in report.jobs} == {(driven.kim_id, True)}
    assert {j.runner_kim_id for j in report.jobs} == {test.kim_id, check.kim_id}
    assert other.kim_id not in {j.subject_kim_id for j in report.jobs}


def test_dependent_waits_and_missing_upstream_pairs_are_queued_first(repository_dir):
    models = items.ar_models(3)
    lattice = items.make_test(repository_dir, "Lattice_Ar", 1)
    elastic = items.make_test(repository_dir, "Elastic_Ar", 2, depends_on=[lattice])
    bulk = items.make_test(repository_dir, "Bulk_Ar", 3, depends_on=[elastic, lattice])

    report = director.on_item_changed(bulk, dispatch=False)

    assert len(report.jobs) == 9
    for model in models:
        up = Job.objects.get(runner_kim_id=lattice.kim_id, subject_kim_id=model.kim_id)
        mid = Job.objects.get(runner_kim_id=elastic.kim_id, subject_kim_id=model.kim_id)
        top = Job.objects.get(runner_kim_id=bulk.kim_id, subject_kim_id=model.kim_id)
        assert (up.state, mid.state, top.state) == ("queued", "waiting", "waiting")
        assert up.priority < mid.priority < top.priority, "upstream pairs go first"
        assert mid.blocked_on == [lattice.kim_id]
        assert set(top.blocked_on) == {elastic.kim_id, lattice.kim_id}
        assert {w["runner"]: w["state"] for w in director.waiting_on(top)} == {
            elastic.kim_id: "waiting", lattice.kim_id: "queued"}


def test_upstream_with_a_result_does_not_block(repository_dir):
    model = items.make_model(items.AR_MODELS[0])
    lattice = items.make_test(repository_dir, "Lattice_Ar", 1)
    elastic = items.make_test(repository_dir, "Elastic_Ar", 2, depends_on=[lattice])
    TestResult.objects.create(kim_id="TR_000000000001_000", test=lattice, model=model,
                              created_at="2026-01-01T00:00:00Z")

    report = director.on_item_changed(elastic, dispatch=False)

    assert [(j.runner_kim_id, j.state) for j in report.jobs] == [(elastic.kim_id, "queued")]


def test_dependency_cycle_is_refused_naming_the_cycle(repository_dir):
    items.ar_models(1)
    first = items.make_test(repository_dir, "First_Ar", 1)
    second = items.make_test(repository_dir, "Second_Ar", 2, depends_on=[first])
    first.depends_on.set([second])

    with pytest.raises(director.DependencyCycle) as caught:
        director.on_item_changed(first, dispatch=False)

    assert caught.value.cycle == [first.kim_id, second.kim_id, first.kim_id]
    assert f"{first.kim_id} → {second.kim_id} → {first.kim_id}" in str(caught.value)
    assert isinstance(caught.value, director.PipelineError)
    assert not Job.objects.exists()


def test_chain_deeper_than_the_bound_is_refused(repository_dir, settings):
    settings.PIPELINE_MAX_DEPENDENCY_DEPTH = 2
    items.ar_models(1)
    chain = [items.make_test(repository_dir, "Link0_Ar", 100)]
    for i in range(1, 4):
        chain.append(items.make_test(repository_dir, f"Link{i}_Ar", 100 + i, depends_on=[chain[-1]]))

    with pytest.raises(director.DependencyTooDeep, match="deeper than 2"):
        director.on_item_changed(chain[-1], dispatch=False)
    assert len(director.on_item_changed(chain[2], dispatch=False).jobs) == 3


def test_never_two_live_jobs_for_one_pair(repository_dir):
    items.ar_models(2)
    test = items.make_test(repository_dir, "NoOp_Ar", 1)
    first = director.on_item_changed(test, dispatch=False)
    second = director.on_item_changed(test, force=True, dispatch=False)
    assert (len(first.jobs), len(second.jobs), second.already_active) == (2, 0, 2)

    job = first.jobs[0]
    with pytest.raises(IntegrityError), transaction.atomic():
        Job.objects.create(runner_kim_id=job.runner_kim_id, subject_kim_id=job.subject_kim_id,
                           state=Job.State.WAITING)
    Job.objects.filter(pk=job.pk).update(state=Job.State.DONE)
    Job.objects.create(runner_kim_id=job.runner_kim_id, subject_kim_id=job.subject_kim_id)


def test_deciding_many_pairs_costs_a_fixed_number_of_queries(repository_dir):
    test = items.make_test(repository_dir, "NoOp_Ar", 1)
    models = Model.objects.bulk_create(
        Model(kim_id=f"Bulk{i}__MO_{i:012d}_000", name=f"Bulk{i}", leader="MO", number=f"{i:012d}",
              version=0, species=["Ar"]) for i in range(1, 1201))
    done = models[:200]
    Error.objects.bulk_create(
        Error(kim_id=f"ER_{i:012d}_000", test=test, model=m, category="nonzero-exit", message="x",
              runner_number=test.number, runner_version=0, subject_number=m.number,
              subject_version=0, created_at="2026-01-01T00:00:00Z") for i, m in enumerate(done, 1))

    with CaptureQueriesContext(connection) as queries:
        report = director.submit_pairs([(test, m) for m in models], dispatch=False)

    assert (len(report.jobs), report.up_to_date) == (1000, 200)
    # Inserts come in batches sized by the backend; the deciding itself is a few queries.
    deciding = [q for q in queries.captured_queries if not q["sql"].startswith("INSERT")]
    assert len(deciding) <= 10, [q["sql"][:80] for q in deciding]


def test_priorities_parse_from_their_2012_names():
    assert director.parse_priority("very high") == Job.Priority.VERY_HIGH == 1
    assert director.parse_priority("very-low") == 5
    assert director.parse_priority("0") == Job.Priority.IMMEDIATE
    with pytest.raises(director.PipelineError, match="unknown priority"):
        director.parse_priority("urgent")


@pytest.mark.parametrize(("checks", "on_approved"), [
    ("mandatory", {"Mandatory"}), ("all", {"Mandatory", "Graded"}), ("none", set())])
def test_submit_all_runs_every_check_on_pending_models_and_the_asked_ones_on_approved(
        repository_dir, checks, on_approved):
    mandatory = items.make_check(repository_dir, "Mandatory", 3)
    graded = items.make_check(repository_dir, "Graded", 4)
    graded.category = graded.Category.CONSISTENCY
    graded.save(update_fields=["category"])
    approved = items.make_model(items.AR_MODELS[0])
    pending = items.make_model(items.AR_MODELS[1], status=Status.PENDING)

    director.submit_all(dispatch=False, checks=checks)

    names = {mandatory.kim_id: "Mandatory", graded.kim_id: "Graded"}
    ran = {(names[j.runner_kim_id], j.subject_kim_id) for j in Job.objects.all()}
    assert {name for name, subject in ran if subject == approved.kim_id} == on_approved
    assert {name for name, subject in ran if subject == pending.kim_id} == {"Mandatory", "Graded"}


def test_submit_all_refuses_an_unknown_choice_of_checks():
    with pytest.raises(ValueError, match="mandatory, all, none"):
        director.submit_all(dispatch=False, checks="some")
