"""The VictorOps public API client: one method per endpoint, typed results, typed errors.

Every call first waits for room in its endpoint family's budget (a sliding window), so we wait rather than
walk into a 429. Reads (GET) retry server errors, timeouts and rate limits with backoff, honouring
Retry-After. Writes retry only when VictorOps cannot have applied them: a rate-limit answer or a connection
never made. A 403 that does not say why is a rate limit while the key is known to work (an answer lately,
or one lookup answered now), else bad credentials. The API key lives in the connection's headers and never
in a message or a log line.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from email.utils import parsedate_to_datetime
from time import monotonic, time
from typing import Any, TypeVar
from urllib.parse import quote

import httpx
from pydantic import BaseModel, SecretStr, TypeAdapter, ValidationError

from bot.victorops import errors
from bot.victorops.limits import Budget, Budgets, Clock, Family, Gate, Sleep
from bot.victorops.models import (
    AckOrResolveRequest,
    ActionResult,
    ActionResults,
    ByUserRequest,
    CreatedIncident,
    CreateIncidentRequest,
    HistoryPage,
    HistoryPageV1,
    HistoryQuery,
    Incident,
    IncidentList,
    OnCallNow,
    Policies,
    PolicyInfo,
    RerouteRequest,
    RerouteStatus,
    RerouteStatuses,
    Team,
    TeamMembers,
    TeamOnCall,
    User,
    UsersV1,
    UsersV2,
)

log = logging.getLogger(__name__)

M = TypeVar("M", bound=BaseModel)
T = TypeVar("T")

INCIDENTS_PATH = "/api-public/v1/incidents"
PROBE_PATH = "/api-public/v1/team"  # a small lookup that any working key may read
KEY_TRUSTED_FOR = 600.0  # seconds an answer from VictorOps counts as evidence that the API key works
_TEAMS = TypeAdapter(list[Team])
_HISTORY_V1 = TypeAdapter(list[HistoryPageV1] | HistoryPageV1)


def family_of(path: str) -> Family:
    """The endpoint family whose budget a call to `path` spends."""
    if path.startswith(INCIDENTS_PATH):
        return Family.INCIDENTS
    if path.startswith("/api-reporting/"):
        return Family.REPORTING
    return Family.LOOKUPS


class VictorOpsClient:
    def __init__(
        self,
        *,
        base_url: str,
        api_id: str,
        api_key: SecretStr,
        budgets: Budgets,
        gates: Mapping[Family, Gate] | None = None,
        timeout: float = 10.0,
        max_attempts: int = 4,
        clock: Clock = monotonic,
        sleep: Sleep = asyncio.sleep,
        transport: httpx.AsyncBaseTransport | None = None,
        on_call: Callable[[str, str, str, str, float], None] | None = None,
    ) -> None:
        self._http = httpx.AsyncClient(
            base_url=base_url.rstrip("/"),
            headers={
                "X-VO-Api-Id": api_id,
                "X-VO-Api-Key": api_key.get_secret_value(),
                "Accept": "application/json",
            },
            timeout=httpx.Timeout(timeout, connect=min(timeout, 5.0)),
            transport=transport,
        )
        self._sleep = sleep
        self._clock = clock
        self._answered_at: float | None = None  # when VictorOps last answered 2xx: evidence the key works
        self._on_call = on_call  # (method, path, status or error, family, seconds waited for budget): metrics
        self.max_attempts = max_attempts
        # In-process budgets unless shared ones are given (several replicas share one through the database).
        self.budgets: dict[Family, Gate] = dict(gates or {f: Budget(budgets.spec(f), clock, sleep) for f in Family})

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> VictorOpsClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    # ---- incidents ---------------------------------------------------------------------------------------

    async def list_incidents(self) -> list[Incident]:
        """Open, acknowledged and recently resolved incidents (the API has no server-side filters)."""
        return (await self._get(INCIDENTS_PATH, IncidentList)).incidents

    async def get_incident(self, number: str) -> Incident:
        return await self._get(f"{INCIDENTS_PATH}/{quote(number, safe='')}", Incident)

    async def create_incident(self, request: CreateIncidentRequest) -> CreatedIncident:
        created = await self._write("POST", INCIDENTS_PATH, request, CreatedIncident)
        if created.error or not created.incident_number:
            raise errors.BadRequest(created.error or "no incident number in the answer")
        return created

    async def ack(self, user: str, numbers: list[str], message: str | None = None) -> list[ActionResult]:
        request = AckOrResolveRequest(user_name=user, incident_names=numbers, message=message)
        return (await self._write("PATCH", f"{INCIDENTS_PATH}/ack", request, ActionResults)).results

    async def resolve(self, user: str, numbers: list[str], message: str | None = None) -> list[ActionResult]:
        request = AckOrResolveRequest(user_name=user, incident_names=numbers, message=message)
        return (await self._write("PATCH", f"{INCIDENTS_PATH}/resolve", request, ActionResults)).results

    async def ack_by_user(self, user: str, message: str | None = None) -> list[ActionResult]:
        """Acknowledge every incident VictorOps says `user` was paged for."""
        request = ByUserRequest(user_name=user, message=message)
        return (await self._write("PATCH", f"{INCIDENTS_PATH}/byUser/ack", request, ActionResults)).results

    async def resolve_by_user(self, user: str, message: str | None = None) -> list[ActionResult]:
        request = ByUserRequest(user_name=user, message=message)
        return (await self._write("PATCH", f"{INCIDENTS_PATH}/byUser/resolve", request, ActionResults)).results

    async def reroute(self, request: RerouteRequest) -> list[RerouteStatus]:
        return (await self._write("POST", f"{INCIDENTS_PATH}/reroute", request, RerouteStatuses)).statuses

    # ---- reporting ---------------------------------------------------------------------------------------

    async def incident_history(self, query: HistoryQuery) -> HistoryPage:
        """Reporting v2. Budgeted at about one call a minute by VictorOps."""
        return await self._get("/api-reporting/v2/incidents", HistoryPage, params=query.params())

    async def incident_history_v1(self, query: HistoryQuery) -> HistoryPageV1:
        """The deprecated reporting v1 (no routingKey filter); answers an array of pages, of which we take one."""
        response = await self._request(
            "GET", "/api-reporting/v1/incidents", params=query.params(with_routing_key=False)
        )
        page = self._parse_adapter(response, _HISTORY_V1)
        if isinstance(page, list):
            return page[0] if page else HistoryPageV1()
        return page

    # ---- lookups -----------------------------------------------------------------------------------------

    async def list_users(self) -> list[User]:
        """Every user (v1 answers a nested list, flattened here)."""
        nested = (await self._get("/api-public/v1/user", UsersV1)).users
        return [user for group in nested for user in group]

    async def find_users_by_email(self, email: str) -> list[User]:
        return (await self._get("/api-public/v2/user", UsersV2, params={"email": email})).users

    async def get_user(self, username: str) -> User:
        # VictorOps does not decode %40, so "@" stays literal in the path.
        return await self._get(f"/api-public/v1/user/{quote(username, safe='@')}", User)

    async def list_policies(self) -> list[PolicyInfo]:
        return (await self._get("/api-public/v1/policies", Policies)).policies

    async def list_teams(self) -> list[Team]:
        return self._parse_adapter(await self._request("GET", "/api-public/v1/team"), _TEAMS)

    async def team_members(self, team_slug: str) -> list[str]:
        path = f"/api-public/v1/team/{quote(team_slug, safe='')}/members"
        return [m.username for m in (await self._get(path, TeamMembers)).members]

    async def oncall_now(self) -> list[TeamOnCall]:
        return (await self._get("/api-public/v1/oncall/current", OnCallNow)).teams_on_call

    # ---- transport ---------------------------------------------------------------------------------------

    async def _get(self, path: str, model: type[M], params: Mapping[str, str] | None = None) -> M:
        return self._parse(await self._request("GET", path, params=params), model)

    async def _write(self, method: str, path: str, body: Any, model: type[M]) -> M:
        return self._parse(await self._request(method, path, json=body.wire()), model)

    async def _request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        json: dict[str, Any] | None = None,
        probing: bool = False,
    ) -> httpx.Response:
        family = family_of(path)
        budget = self.budgets[family]
        idempotent = method == "GET"
        attempts = 1 if probing else self.max_attempts
        for attempt in range(1, attempts + 1):
            waited = await budget.acquire()
            try:
                response = await self._http.request(method, path, params=params, json=json)
                self._observe(method, path, str(response.status_code), family, waited)
            except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
                what = "connection refused" if isinstance(exc, httpx.ConnectError) else "could not connect in time"
                error: errors.VictorOpsError = errors.Unavailable(what, sent=False)
                retry = True  # nothing was sent, so even a write is safe to send again
            except httpx.TimeoutException:
                error, retry = errors.Unavailable("timed out"), idempotent
            except httpx.TransportError as exc:
                error, retry = errors.Unavailable(type(exc).__name__), idempotent
            else:
                if response.is_success:
                    self._answered_at = self._clock()
                    return response
                error = error_for(response)
                if isinstance(error, errors.Forbidden):
                    error = await self._judge_403(error, method, attempt, probing)
                retry = isinstance(error, errors.RateLimited) or (idempotent and isinstance(error, errors.ServerError))
            if isinstance(error, errors.Unavailable):
                self._observe(method, path, "unreachable", family, waited)
            log.warning("VictorOps %s %s failed (attempt %d): %s", method, path, attempt, error)
            if not retry or attempt == attempts:
                raise error
            await self._back_off(budget, error, attempt)
        raise AssertionError("unreachable")  # pragma: no cover

    async def _judge_403(
        self, refused: errors.Forbidden, method: str, attempt: int, probing: bool
    ) -> errors.VictorOpsError:
        """A 403 that does not say why. VictorOps documents 403 as "authentication failed or rate-limit reached"
        and its own scripts wait a minute and retry, so: bad credentials only when nothing shows the key works;
        otherwise a rate limit, waited out and retried. A write still refused on the last attempt, while the key
        reads, is a read-only key."""
        if probing or await self._key_refused():
            return errors.AuthError(403, refused.detail)
        if attempt < self.max_attempts or method == "GET":
            return errors.RateLimited()
        return refused

    async def _key_refused(self) -> bool:
        """True when VictorOps refuses this key for a lookup too, and has not accepted it lately."""
        if self._answered_at is not None and self._clock() - self._answered_at < KEY_TRUSTED_FOR:
            return False
        try:
            await self._request("GET", PROBE_PATH, probing=True)
        except errors.AuthError:
            return True
        except errors.VictorOpsError:
            return False  # no evidence against the key: not an auth failure
        return False

    def _observe(self, method: str, path: str, status: str, family: Family, waited: float) -> None:
        if self._on_call is not None:
            self._on_call(method, path, status, family.value, waited)

    async def _back_off(self, budget: Gate, error: errors.VictorOpsError, attempt: int) -> None:
        if isinstance(error, errors.RateLimited):
            # Someone else spent the budget (another tool on the same key): wait out what VictorOps said,
            # else a whole window. Blocking the window makes every concurrent caller wait too.
            wait = error.retry_after if error.retry_after is not None else budget.spec.period
            if not budget.spec.unlimited:
                await budget.block_for(wait)
                return
        else:
            wait = min(0.5 * 2 ** (attempt - 1), 8.0)
        await self._sleep(wait)

    @staticmethod
    def _parse(response: httpx.Response, model: type[M]) -> M:
        try:
            return model.model_validate_json(response.content)
        except ValidationError as exc:
            raise errors.InvalidResponse(response.request.url.path) from exc

    @staticmethod
    def _parse_adapter(response: httpx.Response, adapter: TypeAdapter[T]) -> T:
        try:
            return adapter.validate_json(response.content)
        except ValidationError as exc:
            raise errors.InvalidResponse(response.request.url.path) from exc


def _body_message(response: httpx.Response) -> str:
    """VictorOps error bodies come as {"message"}, {"error"} or {"errors": [...]}; read all three."""
    try:
        body = response.json()
    except ValueError:
        return ""
    if not isinstance(body, dict):
        return ""
    for key in ("message", "error"):
        if isinstance(body.get(key), str):
            return str(body[key])
    found = body.get("errors")
    if isinstance(found, list):
        return "; ".join(str(item.get("message", item)) if isinstance(item, dict) else str(item) for item in found)
    return ""


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("Retry-After")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - time())
    except (TypeError, ValueError):
        return None


def error_for(response: httpx.Response) -> errors.VictorOpsError:
    """The exception for a non-2xx answer."""
    status, message = response.status_code, _body_message(response)
    if status == 429 or (status == 403 and "too many" in message.lower()):
        return errors.RateLimited(_retry_after(response))
    if status == 403 and "missing authentication token" in message.lower():
        return errors.WrongUrl(str(response.request.url.copy_with(query=None)))
    if status == 403:
        return errors.Forbidden(message)  # the client decides what it means
    if status == 401:
        return errors.AuthError(status, message)
    if status == 404:
        return errors.NotFound(message)
    if status >= 500:
        return errors.ServerError(status)
    if 400 <= status < 500:
        return errors.BadRequest(message)
    return errors.VictorOpsError(f"VictorOps answered HTTP {status} unexpectedly; try again.")
