"""VictorOps failures as exception types. Messages are safe to show a user and never carry the API key."""

from __future__ import annotations


class VictorOpsError(Exception):
    """Base class: `str(error)` is one sentence saying what happened and what to do next."""

    # For a write: VictorOps may have applied it although we did not get its answer (read it back, do not resend)
    may_have_landed = False


class AuthError(VictorOpsError):
    """401, or a 403 while nothing shows that this key works: the API ID or key is wrong."""

    def __init__(self, status: int, message: str = "") -> None:
        self.status = status
        detail = f": {message}" if message else ""
        super().__init__(
            f"VictorOps refused the API credentials (HTTP {status}{detail}): "
            "check VICTOROPS_API_ID and VICTOROPS_API_KEY."
        )


class Forbidden(VictorOpsError):
    """A 403 whose body does not say why. VictorOps documents 403 as "authentication failed or rate-limit
    reached", so the client decides from evidence; raised as is only for a write refused again and again
    while the same key reads: most likely a read-only key."""

    def __init__(self, message: str = "") -> None:
        self.detail = message
        super().__init__(
            "VictorOps kept refusing this change (HTTP 403) although the same API key can read: the key is "
            "probably read-only; create one that is not (Integrations → API) and set VICTOROPS_API_KEY."
        )


class WrongUrl(VictorOpsError):
    """403 "Missing Authentication Token": the API gateway has no such route, so the base URL is wrong."""

    def __init__(self, url: str) -> None:
        super().__init__(
            f"There is no VictorOps API at {url} (it answered “Missing Authentication Token”, which means a wrong "
            "address, not a wrong key): check VICTOROPS_API_URL, normally https://api.victorops.com."
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

    may_have_landed = True

    def __init__(self, status: int) -> None:
        self.status = status
        super().__init__(f"VictorOps had an internal error (HTTP {status}); try again in a minute.")


class Unavailable(VictorOpsError):
    """Timeout or connection failure: the request may or may not have reached VictorOps."""

    def __init__(self, what: str, *, sent: bool = True) -> None:
        self.may_have_landed = sent  # False when the connection was never made
        super().__init__(f"VictorOps could not be reached ({what}); try again in a minute.")


class InvalidResponse(VictorOpsError):
    """VictorOps answered 2xx with a body we cannot read (not JSON, or not the documented shape)."""

    may_have_landed = True  # a 2xx: a write was most likely applied

    def __init__(self, path: str) -> None:
        super().__init__(f"VictorOps sent an unreadable answer to {path}; try again, and report it if it persists.")
