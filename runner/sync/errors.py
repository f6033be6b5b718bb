"""The named error of every failed transfer to or from the remote repository."""

from repository.errors import PipelineError


class PipelineSyncError(PipelineError):
    """An rsync call that did not go through: where, which area, what was asked, and rsync's words."""

    def __init__(self, message: str, *, address: str = "", area: str = "", asked: str = "",
                 exit_code: int | None = None, last_words: str = "", transient: bool = False):
        self.address = address
        self.area = area
        self.asked = asked
        self.exit_code = exit_code
        self.last_words = last_words
        self.transient = transient
        parts = [message]
        if address:
            parts.append(f"address {address}")
        if area:
            parts.append(f"area {area}")
        if asked:
            parts.append(f"asked: {asked}")
        if exit_code is not None:
            parts.append(f"rsync exit code {exit_code}")
        if last_words:
            parts.append(f"rsync said: {last_words}")
        super().__init__("; ".join(parts))


class HostileRemoteContent(PipelineSyncError):
    """The remote offered something a reader must never take (bad names, links, devices, sizes)."""
