"""Failures of the core's ports, stated here so that adapters raise them and every surface explains them."""

from __future__ import annotations

from bot.core.actions import ActionError


class StorageBusy(ActionError):
    """The database kept a lock past its timeout: nothing was changed, and trying again later works."""

    def __init__(self) -> None:
        super().__init__(
            "vobot's database is busy (another write held it too long), so nothing was done; "
            "try again in a minute, and tell your vobot admin if it keeps happening."
        )
