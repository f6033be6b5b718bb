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


def create_roles(apps, schema_editor) -> None:
    """Make (or complete) both groups; run again after new models, it adds their permissions."""
    from django.contrib.auth.management import create_permissions

    # Permissions are made after migrate (post_migrate); a fresh database has none yet.
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    group_model = apps.get_model("auth", "Group")
    permission_model = apps.get_model("auth", "Permission")
    for role in (CURATOR, VIEWER):
        group, _ = group_model.objects.get_or_create(name=role)
        group.permissions.add(*permissions_of(role, permission_model))
