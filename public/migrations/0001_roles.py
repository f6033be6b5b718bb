"""The curator and viewer groups with their permissions (public.roles)."""

from django.db import migrations

from public.roles import create_roles


def remove_roles(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name__in=("curator", "viewer")).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("repository", "0004_error_categories_approval_decision"),
        ("runner", "0006_publication"),
    ]

    operations = [migrations.RunPython(create_roles, remove_roles)]
