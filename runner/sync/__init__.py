"""The remote repository over rsync (issue 9): settings, transfers, safe publication.

Importing this package registers its system check (runner.sync.checks).
"""

from runner.sync import checks  # noqa: F401  (registers the RSYNC_ADDRESS check)
from runner.sync.errors import HostileRemoteContent, PipelineSyncError
from runner.sync.remote import AREAS, AddressError, Remote, configured_remote, parse_address

__all__ = ["AREAS", "AddressError", "HostileRemoteContent", "PipelineSyncError", "Remote",
           "configured_remote", "parse_address"]
