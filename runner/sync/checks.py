"""``manage.py check``: a malformed RSYNC_ADDRESS is reported, not discovered at the first pull."""

from django.core.checks import Error, register

from runner.sync.remote import AddressError, configured_remote


@register()
def check_rsync_address(app_configs=None, **kwargs):
    try:
        configured_remote()
    except AddressError as exc:
        return [Error(str(exc), hint="Set RSYNC_ADDRESS to rsync://HOST[:PORT]/MODULE, [USER@]HOST, "
                      "or leave it empty for one machine.", id="runner.sync.E001")]
    return []
