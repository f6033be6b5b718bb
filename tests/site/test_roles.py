"""Who may change what: anonymous visitors and the viewer group change nothing, anywhere;
every form that posts carries a CSRF token; the JSON twins never show curator-only fields."""

import re

import pytest
from django.contrib import admin
from django.contrib.auth.models import Group
from django.test import Client
from django.urls import reverse

from repository.models import Model, Status, Test
from runner.models import Job
from tests.site.cast import PROPERTY, SECRET, UNDER_REVIEW, make_cast

pytestmark = pytest.mark.django_db

#: Field names that are the curators' business only.
CURATOR_ONLY = {"content_hash", "host", "lease_owner", "reason", "curator", "override",
                "metadata", "source_format", "blocked_on", "last_error"}


@pytest.fixture
def cast(repository_dir):
    return make_cast(repository_dir)


def member(django_user_model, role: str):
    user = django_user_model.objects.create_user(role, password="s3cret-pass", is_staff=True)
    user.groups.add(Group.objects.get(name=role))
    return user


def registered():
    return [(m, a) for m, a in admin.site._registry.items() if m._meta.app_label in ("repository", "runner")]


def snapshot():
    return (list(Model.objects.values_list("kim_id", "status", "title").order_by("kim_id")),
            list(Test.objects.values_list("kim_id", "status", "title").order_by("kim_id")),
            list(Job.objects.values_list("runner_kim_id", "state", "priority").order_by("pk")))


def test_the_migration_made_both_groups_viewer_with_view_permissions_only():
    viewer, curator = Group.objects.get(name="viewer"), Group.objects.get(name="curator")
    codenames = set(viewer.permissions.values_list("codename", flat=True))
    assert codenames and all(c.startswith("view_") for c in codenames)
    assert {"change_model", "change_job", "view_testresult"} <= set(
        curator.permissions.values_list("codename", flat=True))


def test_anonymous_visitors_are_sent_to_sign_in_and_change_nothing(client, cast):
    before = snapshot()
    for model, _ in registered():
        changelist = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")
        assert client.get(changelist).status_code == 302
        page = client.post(changelist, {"action": "approve", "_selected_action": [cast.pending.pk]})
        assert page.status_code == 302 and "/admin/login/" in page["Location"]
    for url in ("/", f"/id/{cast.pending.kim_id}", "/browse/models", f"/id/{cast.test.kim_id}"):
        assert client.post(url, {"status": "approved"}).status_code == 405
    assert snapshot() == before


def test_a_viewer_reads_every_admin_page_and_can_change_nothing(client, django_user_model, cast):
    client.force_login(member(django_user_model, "viewer"))
    before = snapshot()
    for model, model_admin in registered():
        name = f"admin:{model._meta.app_label}_{model._meta.model_name}"
        assert client.get(reverse(f"{name}_changelist")).status_code == 200, model
        row = model_admin.get_queryset(None).first()
        for action in ("approve", "rerun", "run_all_matching", "cancel", "rerun_jobs",
                       "cancel_jobs", "delete_selected"):
            client.post(reverse(f"{name}_changelist"),
                        {"action": action, "_selected_action": [row.pk] if row else []})
        assert client.get(reverse(f"{name}_add")).status_code == 403, model
        if row is not None:
            assert client.post(reverse(f"{name}_change", args=[row.pk]),
                               {"title": "changed", "status": "approved"}).status_code == 403, model
            assert client.post(reverse(f"{name}_delete", args=[row.pk]),
                               {"post": "yes"}).status_code == 403, model
    assert snapshot() == before
    assert Model.objects.get(pk=cast.pending.pk).status == Status.PENDING


def test_a_viewer_can_neither_rerun_nor_cancel_jobs(client, django_user_model, cast):
    queued = Job.objects.create(runner_kim_id=cast.test.kim_id, subject_kim_id=cast.models[1].kim_id)
    done = Job.objects.create(runner_kim_id=cast.test.kim_id, subject_kim_id=cast.models[2].kim_id,
                              state=Job.State.DONE)
    client.force_login(member(django_user_model, "viewer"))
    before = snapshot()
    for action in ("rerun_jobs", "cancel_jobs"):
        client.post(reverse("admin:runner_job_changelist"),
                    {"action": action, "_selected_action": [queued.pk, done.pk]})
    assert snapshot() == before


def test_a_viewer_is_offered_no_action(client, django_user_model, cast):
    client.force_login(member(django_user_model, "viewer"))
    text = client.get(reverse("admin:repository_model_changelist")).content.decode()
    assert 'value="approve"' not in text and 'value="rerun"' not in text


def test_a_curator_without_a_csrf_token_is_refused(django_user_model, cast):
    client = Client(enforce_csrf_checks=True)
    client.force_login(member(django_user_model, "curator"))
    url = reverse("admin:repository_model_change", args=[cast.pending.pk])
    assert client.post(url, {"title": "changed"}).status_code == 403
    assert Model.objects.get(pk=cast.pending.pk).title != "changed"


def test_every_posting_form_carries_a_csrf_token(client, django_user_model, cast):
    client.force_login(member(django_user_model, "curator"))
    pages = ["/admin/login/", "/", "/browse/models", "/browse/results", f"/properties/{PROPERTY}"]
    for model, model_admin in registered():
        name = f"admin:{model._meta.app_label}_{model._meta.model_name}"
        pages.append(reverse(f"{name}_changelist"))
        row = model_admin.get_queryset(None).first()
        if row is not None:
            pages.append(reverse(f"{name}_change", args=[row.pk]))
    posting = 0
    for url in pages:
        text = client.get(url).content.decode()
        for form in re.findall(r"<form\b[^>]*>.*?</form>", text, flags=re.S | re.I):
            if re.search(r'method="post"', form, flags=re.I):
                posting += 1
                assert 'name="csrfmiddlewaretoken"' in form, url
    assert posting > 10


def _keys(value):
    if isinstance(value, dict):
        for key, inner in value.items():
            yield key
            yield from _keys(inner)
    elif isinstance(value, list):
        for inner in value:
            yield from _keys(inner)


def test_json_twins_never_show_curator_only_fields(client, django_user_model, cast):
    urls = ["/", "/browse/models", "/browse/tests", "/browse/results", f"/properties/{PROPERTY}",
            "/search?q=LJ", *(f"/id/{o.kim_id}" for o in (
                cast.driver, cast.test, *cast.models, *cast.results, cast.check, cast.grade,
                cast.error, cast.reference))]
    for who in ("anonymous", "curator"):
        if who == "curator":
            client.force_login(member(django_user_model, "curator"))
        for url in urls:
            page = client.get(url + ("&" if "?" in url else "?") + "format=json")
            assert page.status_code == 200 and page["Content-Type"] == "application/json", url
            assert SECRET not in page.content.decode(), (who, url)
            if who == "anonymous":
                assert UNDER_REVIEW not in page.content.decode(), url
            assert not CURATOR_ONLY & set(_keys(page.json())), (who, url)
