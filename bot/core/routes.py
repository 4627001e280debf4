"""Routing keys, one spelling each: the public API calls the default route `routingdefault`, the reporting API
calls it `default` (reference §5.1, §8 item 5). People type either; both mean the same route everywhere."""

from __future__ import annotations

from collections.abc import Iterable

DEFAULT = "default"
_SPELLINGS = {"default": DEFAULT, "routingdefault": DEFAULT}


def route_key(name: str) -> str:
    """What two spellings of one routing key have in common: case aside, `routingdefault` is `default`."""
    folded = name.strip().lower()
    return _SPELLINGS.get(folded, folded)


def reporting_route(name: str) -> str:
    """The spelling the reporting API filters by: `default` for the default route, any other as typed."""
    return DEFAULT if route_key(name) == DEFAULT else name.strip()


def unknown_routes(wanted: Iterable[str], known: Iterable[str]) -> list[str]:
    """The wanted routes that none of the known ones (as VictorOps lists them) is a spelling of."""
    seen = {route_key(k) for k in known}
    return [w for w in wanted if route_key(w) not in seen]
