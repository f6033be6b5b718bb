from django.apps import AppConfig


class PublicConfig(AppConfig):
    """The public pages (openkim.org's URL scheme) and the curator roles."""

    name = "public"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from django.db.models.signals import post_migrate

        from public.roles import complete_roles

        # For every app signalled, after auth's handler has made that app's permissions: cheap
        # and idempotent (public's own table is not a role's business: roles.APPS).
        post_migrate.connect(complete_roles, dispatch_uid="public.complete_roles")
