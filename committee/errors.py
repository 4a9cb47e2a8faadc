"""The family of committee server errors.

Every error the committee server raises on purpose derives from :class:`CommitteeError`; each
leaf also derives from the matching built-in, as the gate's errors do. The command line turns
them into a message and exit code 1 (2 for configuration), never a traceback.
"""


class CommitteeError(Exception):
    """Base class for every error raised by the committee server on purpose."""


class ConfigError(CommitteeError, ValueError):
    """A configuration file or value is wrong; the message names the file and the key."""


class NotFound(CommitteeError, LookupError):
    """A site, gate, household or pass named by the user does not exist."""


class Refused(CommitteeError, ValueError):
    """A change is refused (already exists, unknown site, a pass already revoked, ...)."""


class ImportRefused(CommitteeError, ValueError):
    """A household register file is refused; :attr:`problems` names each bad line."""

    def __init__(self, message: str, problems: list[str] | None = None) -> None:
        super().__init__(message)
        self.problems = problems or []


class DatabaseError(CommitteeError, RuntimeError):
    """The database cannot be opened or migrated."""
