"""One error hierarchy for the whole engine.

Every error a user can see is a :class:`ReelsmithError` whose message is an English
sentence naming the problem. Faces map them to exit codes / HTTP statuses; no traceback
reaches a user.
"""

from __future__ import annotations


class ReelsmithError(Exception):
    """Base class. ``http_status`` is what the server answers; ``code`` is a stable slug."""

    http_status: int = 500
    code: str = "error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:  # pragma: no cover - trivial
        return self.message


class InputError(ReelsmithError):
    """The caller's fault: bad file, bad parameter, refused URL, limit exceeded."""

    http_status = 400
    code = "input_error"


class UnsupportedMediaError(InputError):
    """The input is not media we can read (HTTP 415)."""

    http_status = 415
    code = "unsupported_media"


class LimitExceededError(InputError):
    """The input exceeds a configured limit (bytes, pixels, duration, frames); HTTP 413."""

    http_status = 413
    code = "limit_exceeded"


class ModelError(ReelsmithError):
    """A model could not be found, verified, loaded or run."""

    http_status = 400
    code = "model_error"


class ProcessingError(ReelsmithError):
    """Decoding, processing or encoding failed for a reason that is not the input's fault."""

    http_status = 500
    code = "processing_error"


class Cancelled(ReelsmithError):
    """The job was cancelled (or hit its deadline) and stopped cooperatively."""

    http_status = 409
    code = "cancelled"


class TimedOut(Cancelled):
    """The job ran past its overall timeout."""

    code = "timed_out"


class ConfigError(ReelsmithError):
    """The operator's configuration is wrong: an unknown key or a value of the wrong type in
    the environment or the settings file."""

    code = "config_error"


class InsufficientStorage(ReelsmithError):
    """The server's disk is (nearly) full: new work is refused until space is freed (HTTP 507)."""

    http_status = 507
    code = "insufficient_storage"
