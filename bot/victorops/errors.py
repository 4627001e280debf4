"""VictorOps failures as exception types. Messages are safe to show a user and never carry the API key."""

from __future__ import annotations


class VictorOpsError(Exception):
    """Base class: `str(error)` is one sentence saying what happened and what to do next."""


class AuthError(VictorOpsError):
    """401, or 403 without a rate-limit body: the API ID or key is wrong, or the key is read-only."""

    def __init__(self, status: int, message: str = "") -> None:
        self.status = status
        detail = f" ({message})" if message else ""
        super().__init__(
            f"VictorOps refused the API credentials (HTTP {status}){detail}: "
            "check VICTOROPS_API_ID and VICTOROPS_API_KEY, and that the key is not read-only."
        )


class RateLimited(VictorOpsError):
    """429, or 403 whose body says too many requests. `retry_after` is in seconds when the server gave one."""

    def __init__(self, retry_after: float | None = None) -> None:
        self.retry_after = retry_after
        when = f" for about {retry_after:.0f} s" if retry_after is not None else ""
        super().__init__(f"VictorOps is rate limiting us{when}; the call will be retried, nothing to do.")


class NotFound(VictorOpsError):
    """404: on ack/resolve/create it means the VictorOps user does not exist; elsewhere the thing asked for."""

    def __init__(self, message: str = "") -> None:
        super().__init__(
            message or "VictorOps did not find that user or incident: check the name or number and try again."
        )


class BadRequest(VictorOpsError):
    """400: VictorOps rejected the arguments; carries the body's message."""

    def __init__(self, message: str) -> None:
        self.detail = message
        super().__init__(f"VictorOps rejected the request: {message or 'no reason given'}.")


class ServerError(VictorOpsError):
    """5xx from VictorOps."""

    def __init__(self, status: int) -> None:
        self.status = status
        super().__init__(f"VictorOps had an internal error (HTTP {status}); try again in a minute.")


class Unavailable(VictorOpsError):
    """Timeout or connection failure: the request may or may not have reached VictorOps."""

    def __init__(self, what: str) -> None:
        super().__init__(f"VictorOps could not be reached ({what}); try again in a minute.")


class InvalidResponse(VictorOpsError):
    """VictorOps answered 2xx with a body we cannot read (not JSON, or not the documented shape)."""

    def __init__(self, path: str) -> None:
        super().__init__(f"VictorOps sent an unreadable answer to {path}; try again, and report it if it persists.")
