"""The family of kiosk errors.

Every error kiosk raises on purpose derives from :class:`KioskError`; each leaf also derives
from the matching built-in so callers that only know Python's own exceptions still catch it.
"""


class KioskError(Exception):
    """Base class for every error raised by kiosk on purpose."""


class ConfigError(KioskError, ValueError):
    """A configuration file or value is wrong; the message names the file and the key."""


class SensorError(KioskError, RuntimeError):
    """A sensor did not answer, or answered with something that is not a measurement."""


class CameraError(KioskError, RuntimeError):
    """The camera cannot be opened or delivers no frames."""


class PassError(KioskError, ValueError):
    """A pass cannot be issued (bad household, key missing, token too long, ...)."""


class KeyFileError(KioskError, OSError):
    """A key file is missing, unreadable, malformed or would be overwritten."""


class JournalError(KioskError, RuntimeError):
    """The journal database cannot be opened, migrated or written."""


class ScenarioError(KioskError, ValueError):
    """A simulation scenario file is wrong; the message names the file and the entry."""


class UplinkError(KioskError, RuntimeError):
    """The committee server refused or could not be reached."""


class CalibrationError(KioskError, ValueError):
    """A calibration is refused: the correction is beyond the limit or the points are unusable."""


class ContractError(KioskError, ValueError):
    """A body breaks the committee contract; :attr:`field` names the field (``passes[3].id``)
    and :attr:`seq` the event at fault in a batch (the server's ``bad_seq``), when known."""

    def __init__(self, message: str, *, field: str = "", seq: int | None = None) -> None:
        super().__init__(message)
        self.field = field
        self.seq = seq


class StopTimeout(KioskError, RuntimeError):
    """A thread did not stop within its timeout (after gpiozero's ``ZombieThread``)."""


class AudioError(KioskError, RuntimeError):
    """The audio output cannot play, or a prompt's audio file is missing or unusable."""
