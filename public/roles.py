"""The two curator roles and the permissions each holds (created by migration 0001_roles).

``curator``: every permission of the items, results and queue (import, approve, re-run,
cancel, edit). ``viewer``: only the ``view_`` permissions: reads the admin, changes nothing.
A member also needs ``is_staff`` to sign in to the admin.
"""

CURATOR, VIEWER = "curator", "viewer"
#: Apps whose rows the roles are about.
APPS = ("repository", "runner")


def permissions_of(role: str, permission_model):
    rows = permission_model.objects.filter(content_type__app_label__in=APPS)
    if role == VIEWER:
        rows = rows.filter(codename__startswith="view_")
    return rows


def make_groups(group_model, permission_model) -> None:
    """Make (or complete) both groups with the permissions that exist now."""
    for role in (CURATOR, VIEWER):
        group, _ = group_model.objects.get_or_create(name=role)
        group.permissions.add(*permissions_of(role, permission_model))


def create_roles(apps, schema_editor) -> None:
    """The data migration: permissions are made after migrate (post_migrate), so a fresh
    database has none yet; make them first, then the groups."""
    from django.contrib.auth.management import create_permissions

    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    make_groups(apps.get_model("auth", "Group"), apps.get_model("auth", "Permission"))


def complete_roles(sender, **kwargs) -> None:
    """After every migrate (and a test database flush): new models' permissions join the groups."""
    from django.contrib.auth.models import Group, Permission

    make_groups(Group, Permission)
