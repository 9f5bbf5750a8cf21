"""The connection's HTTP client for the community API, and the check that it can be reached.

The community API authenticates every request with the HLIAMKey and HLPassword headers and
answers errors as JSON `{"error", "message"}`. Every way a request can fail becomes one
ConnectionFailed whose `reason` says what to do about it and whose message keeps the exact
detail (the server's message or the operating system's error).

httpx's timeouts bound each read, so a server that trickles bytes never times out: a client
made with a `deadline` stops reading once that many seconds have passed since it was made,
whatever it was reading (a sync's stream, the activity pull's, the duplicate check's).
"""

from __future__ import annotations

import gc
import ssl
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from types import TracebackType
from typing import Any, Literal, NoReturn

import httpx
import orjson
from sqlalchemy.orm import Session

from kith.encryption import SecretBox
from kith.errors import KithError
from kith.marketing.integration import get_integration, integration_password
from kith.marketing.models import IntegrationSettings
from kith.web.errors import NO_ROUTE

API_PREFIX = "/api/v1"
# Connecting should be quick; reading a page of 10,000 members may take a while.
DEFAULT_TIMEOUT = httpx.Timeout(60.0, connect=10.0)
USER_AGENT = "kith-connection/0.1"
# A read expected to bring N items may take N of these seconds on top of the base deadline
# (KITH_COMMUNITY_READ_DEADLINE_SECONDS): a thousand items a second, where a sync reads more
# than a hundred thousand on a slow machine (docs/performance.md).
SECONDS_PER_ITEM = 0.001

FailureReason = Literal[
    "not_configured", "inactive", "unreachable", "unauthorized", "throttled", "unexpected"
]
# How each failure maps to HTTP when the marketing API reports it: the connection's own state
# is a conflict; the community's answer (or silence) is a bad gateway, throttling a 503.
_HTTP_STATUS: dict[FailureReason, int] = {
    "not_configured": 409,
    "inactive": 409,
    "unreachable": 502,
    "unauthorized": 502,
    "throttled": 503,
    "unexpected": 502,
}


class ConnectionFailed(KithError):
    """The connection could not use the community API; `reason` names why, `detail` is exact."""

    def __init__(
        self,
        reason: FailureReason,
        message: str,
        *,
        detail: str = "",
        retry_after: int | None = None,
    ) -> None:
        super().__init__(message)
        self.reason: FailureReason = reason
        self.detail = detail
        self.retry_after = retry_after
        self.http_status = _HTTP_STATUS[reason]

    def as_json(self) -> dict[str, Any]:
        return {
            "ok": False,
            "reason": self.reason,
            "message": str(self),
            "detail": self.detail,
            "retry_after": self.retry_after,
        }


class ChangesGone(ConnectionFailed):
    """The community no longer keeps every change after the cursor asked from (HTTP 410): the
    list must be read in full again."""


@dataclass(frozen=True)
class CheckResult:
    """What a successful check saw: the API answered these credentials with its lists."""

    base_url: str
    list_count: int

    def as_json(self) -> dict[str, Any]:
        return {"ok": True, "base_url": self.base_url, "list_count": self.list_count}


def legacy_contact_key(value: object) -> str | None:
    """A member's Legacy Contact Key as the connection matches it to a Remote ID: trimmed, and
    None when there is none. Every key read from the community goes through here."""
    key = value.strip() if isinstance(value, str) else ""
    return key or None


@dataclass(frozen=True, slots=True)
class ListMember:
    """A member of a list (or of an automation rule's audience), as the community API sends it.

    `legacy_contact_key` and `email` are trimmed (None when empty); `fields` is the whole record,
    with the platform edition's details (names, profile fields, communities, activity).
    """

    contact_key: str | None
    legacy_contact_key: str | None
    email: str | None
    fields: dict[str, Any]

    @classmethod
    def from_api(cls, item: dict[str, Any]) -> ListMember:
        email = item.get("email")
        return cls(
            item.get("contact_key"),
            legacy_contact_key(item.get("legacy_contact_key")),
            (email.strip() or None) if isinstance(email, str) else None,
            item,
        )


@dataclass(frozen=True, slots=True)
class ListChange:
    """One change of a list's membership: `added` (the member as the stream shows them) or
    `removed` (the keys and email they were taken in with); `seq` orders them."""

    seq: int
    change: Literal["added", "removed"]
    member: ListMember


@dataclass(frozen=True, slots=True)
class ChangePage:
    """A page of a list's changes, the cursor to ask from next, and whether more follow."""

    changes: list[ListChange]
    cursor: int
    more: bool


class MemberStream:
    """A list's members, one at a time, as one NDJSON stream. Once read to its end, `cursor`
    is where the list's change log stood when it was read (None when the server gave none)."""

    def __init__(self, client: CommunityClient, path: str, params: dict[str, Any]) -> None:
        self.cursor: int | None = None
        self._members = map(ListMember.from_api, client.stream_ndjson(path, params, self._ended))

    def __iter__(self) -> MemberStream:
        return self

    def __next__(self) -> ListMember:
        return next(self._members)

    def _ended(self, end: dict[str, Any]) -> None:
        cursor = end.get("cursor")
        self.cursor = cursor if isinstance(cursor, int) and not isinstance(cursor, bool) else None


@cache
def _tls() -> ssl.SSLContext:
    """The TLS settings every client shares: making them reads the system's certificates, about
    20 ms, which a live pass would otherwise spend on each group it syncs."""
    return httpx.create_ssl_context()


class CommunityClient:
    """The community API, authenticated as one IAM key; use it as a context manager.

    Redirects are not followed: the password travels in a header on every request, and a
    redirect could carry it to another host. A redirect is reported with where it points.
    """

    def __init__(
        self,
        base_url: str,
        iam_key: str,
        password: str,
        *,
        timeout: float | httpx.Timeout = DEFAULT_TIMEOUT,
        deadline: float | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.iam_key = iam_key
        self.deadline = deadline
        self._ends_at = None if deadline is None else time.monotonic() + deadline
        self._http = httpx.Client(
            base_url=self.base_url + API_PREFIX,
            headers={"HLIAMKey": iam_key, "HLPassword": password, "User-Agent": USER_AGENT},
            timeout=timeout,
            follow_redirects=False,
            transport=transport,
            # a community served over plain HTTP has no certificate to check, and loading the
            # system's certificates costs a tenth of a second in a new process
            verify=_tls() if self.base_url.startswith("https:") else False,
        )

    def __enter__(self) -> CommunityClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def check(self) -> CheckResult:
        """Read the Custom User Lists once: proves the URL, the credentials and the API."""
        lists = self.get_json("/lists")
        if not isinstance(lists, list):
            raise self._unexpected(self._url("/lists"), f"expected a JSON list, got {lists!r:.200}")
        return CheckResult(self.base_url, len(lists))

    def get_json(self, path: str, params: dict[str, Any] | None = None) -> Any:
        """GET `path` under /api/v1 and return its JSON body, or raise ConnectionFailed."""
        return self._send("GET", path, params=params)

    def post_json(self, path: str, body: dict[str, Any]) -> Any:
        """POST `body` to `path` under /api/v1; its JSON answer, or raise ConnectionFailed."""
        return self._send("POST", path, params=None, json=body)

    def stream_members(self, list_key: str, *, details: bool) -> MemberStream:
        """Every member of a list, read as one NDJSON stream, one member at a time."""
        params = {"details": "true" if details else "false"}
        return MemberStream(self, f"/lists/{list_key}/members.ndjson", params)

    def list_changes(
        self,
        list_key: str,
        after: int,
        *,
        details: bool,
        limit: int | None = None,
        fresh: bool = True,
    ) -> ChangePage:
        """One page of a list's changes after cursor `after`, in order (up to `limit`, else the
        server's page size); ChangesGone when they are no longer all kept. `fresh` asks the
        community to bring its lists up to date first; without, the changes are those of its
        last pass (the live pass follows the passes the workers run anyway)."""
        params: dict[str, Any] = {
            "after": after,
            "details": "true" if details else "false",
            "fresh": "true" if fresh else "false",
            "keys_only": "false" if details else "true",  # all a sync stages without details
        }
        if limit is not None:
            params["limit"] = limit
        path = f"/lists/{list_key}/changes"
        with _collector_paused():
            body = self.get_json(path, params)
            try:
                changes = [
                    ListChange(item["seq"], item["change"], ListMember.from_api(item))
                    for item in body["changes"]
                ]
                return ChangePage(changes, int(body["cursor"]), bool(body["more"]))
            except (KeyError, TypeError, ValueError) as error:
                detail = f"not a page of changes: {error!r}"
                raise self._unexpected(self._url(path), detail) from None

    def stream_rule_members(self, rule_key: str) -> Iterator[ListMember]:
        """Every member an automation rule reaches, one at a time."""
        return map(
            ListMember.from_api, self.stream_ndjson(f"/automation-rules/{rule_key}/members.ndjson")
        )

    def stream_ndjson(
        self,
        path: str,
        params: dict[str, Any] | None = None,
        on_end: Callable[[dict[str, Any]], None] | None = None,
    ) -> Iterator[dict[str, Any]]:
        """The items of an NDJSON stream under /api/v1, one at a time; `on_end` is given the
        end line's object (`{"count": N, ...}`) once its count is checked.

        The stream must end with its count line; one that stops short (the server died, a
        proxy cut it) raises ConnectionFailed rather than passing for a shorter one.
        """
        url = self._url(path)
        response = self._open("GET", path, params=params)
        try:
            if not response.is_success:
                self._raise_for(response, self._body(response, url), url)
            count = 0
            for line in _lines(self._chunks(response, url)):
                if not line:
                    continue
                item = orjson.loads(line)
                if "end" in item:
                    if item["end"].get("count") != count:
                        raise self._unexpected(
                            url, f"the stream says {item['end'].get('count')} items, sent {count}"
                        )
                    if on_end is not None:
                        on_end(item["end"])
                    return
                count += 1
                yield item
        except httpx.HTTPError as error:
            raise self._failure(url, error) from None
        except orjson.JSONDecodeError:
            raise self._unexpected(url, "a line of the stream is not JSON") from None
        finally:
            response.close()
        raise self._unexpected(url, f"the stream stopped short after {count} items")

    def _send(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None,
        json: dict[str, Any] | None = None,
    ) -> Any:
        """The JSON body of a successful answer; ConnectionFailed for any other outcome."""
        url = self._url(path)
        response = self._open(method, path, params=params, json=json)
        try:
            body = self._body(response, url)
        except httpx.HTTPError as error:
            raise self._failure(url, error) from None
        finally:
            response.close()
        if not response.is_success:
            self._raise_for(response, body, url)
        try:
            return orjson.loads(body)
        except orjson.JSONDecodeError:
            raise self._unexpected(url, f"the body is not JSON: {_text(body)[:200]!r}") from None

    def _url(self, path: str) -> str:
        return f"{self.base_url}{API_PREFIX}{path}"

    def _open(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None,
        json: dict[str, Any] | None = None,
    ) -> httpx.Response:
        """Send a request; the response with its body still to read (and to close), each of its
        waits bounded by what is left of the deadline."""
        url = self._url(path)
        self._check_deadline(url)
        request = self._http.build_request(
            method, path.lstrip("/"), params=params, json=json, timeout=self._timeout()
        )
        try:
            return self._http.send(request, stream=True)
        except httpx.HTTPError as error:
            raise self._failure(url, error) from None

    def _timeout(self) -> httpx.Timeout:
        """The client's timeouts, none longer than what is left of the deadline."""
        usual = self._http.timeout
        if self._ends_at is None:
            return usual
        left = max(self._ends_at - time.monotonic(), 0.001)
        return httpx.Timeout(
            connect=min(usual.connect or left, left),
            read=min(usual.read or left, left),
            write=min(usual.write or left, left),
            pool=min(usual.pool or left, left),
        )

    def _chunks(self, response: httpx.Response, url: str) -> Iterator[bytes]:
        """The body as it arrives; ConnectionFailed once the deadline has passed."""
        for chunk in response.iter_bytes():
            self._check_deadline(url)
            yield chunk

    def _body(self, response: httpx.Response, url: str) -> bytes:
        return b"".join(self._chunks(response, url))

    def _check_deadline(self, url: str) -> None:
        if self._past_deadline():
            raise self._too_slow(url)

    def _past_deadline(self) -> bool:
        return self._ends_at is not None and time.monotonic() >= self._ends_at

    def _too_slow(self, url: str) -> ConnectionFailed:
        seconds = f"{self.deadline:,.1f}".removesuffix(".0")
        detail = f"not done within the read deadline of {seconds} s"
        return ConnectionFailed(
            "unreachable",
            f"the community API at {url} was too slow: {detail} "
            "(KITH_COMMUNITY_READ_DEADLINE_SECONDS); the read was stopped",
            detail=detail,
        )

    def _failure(self, url: str, error: httpx.HTTPError) -> ConnectionFailed:
        """What a transport error means: the server cannot be reached, or it broke off (or its
        wait ran into the deadline)."""
        if isinstance(error, httpx.TimeoutException) and self._past_deadline():
            return self._too_slow(url)
        detail = str(error) or type(error).__name__
        if isinstance(error, httpx.TimeoutException | httpx.NetworkError | httpx.ProxyError):
            return ConnectionFailed(
                "unreachable", f"cannot reach the community API at {url}: {detail}", detail=detail
            )
        return self._unexpected(url, detail)

    def _raise_for(self, response: httpx.Response, body: bytes, url: str) -> NoReturn:
        """The ConnectionFailed an unsuccessful answer (`body` read) means."""
        detail = _server_message(response, body)
        if response.status_code == 401:
            raise ConnectionFailed(
                "unauthorized",
                f"the community API at {self.base_url} refused IAM key {self.iam_key!r} "
                f"(HTTP 401): {detail}",
                detail=detail,
            )
        if response.status_code == 429:
            raise ConnectionFailed(
                "throttled",
                f"the community API at {self.base_url} is throttling IAM key {self.iam_key!r} "
                f"(HTTP 429): {detail}",
                detail=detail,
                retry_after=_retry_after(response),
            )
        if response.status_code == 410:
            raise ChangesGone(
                "unexpected",
                f"the community API at {url} no longer keeps the changes asked for (HTTP 410): "
                f"{detail}; the list is read in full",
                detail=detail,
            )
        if response.is_redirect:
            detail = f"redirected to {response.headers.get('location')!r}; configure that URL"
        elif response.status_code == 404 and _api_error(body) in (None, NO_ROUTE):
            detail += f"; is {self.base_url} the URL the community's /api/v1 is under?"
        raise self._unexpected(url, f"HTTP {response.status_code}: {detail}")

    def _unexpected(self, url: str, detail: str) -> ConnectionFailed:
        return ConnectionFailed(
            "unexpected",
            f"unexpected answer from {url} (is it the Kith community API?): {detail}",
            detail=detail,
        )


def active_integration(session: Session) -> IntegrationSettings:
    """The stored Integration Settings, refused unless configured and Active."""
    settings = get_integration(session)
    if settings is None:
        raise ConnectionFailed(
            "not_configured",
            "the connection is not configured: set the community API URL, IAM key and password "
            "in Integration Settings (kith connection configure)",
        )
    if not settings.active:
        raise ConnectionFailed(
            "inactive",
            "the connection is not Active: switch it on in Integration Settings "
            "(kith connection configure --active)",
        )
    return settings


def client_for(
    session: Session,
    box: SecretBox,
    *,
    timeout: float | httpx.Timeout = DEFAULT_TIMEOUT,
    deadline: float | None = None,
) -> CommunityClient:
    """A client with the stored Integration Settings, refused unless the connection is Active;
    with a `deadline`, it reads for that many seconds at most."""
    settings = active_integration(session)
    return CommunityClient(
        settings.base_url,
        settings.iam_key,
        integration_password(settings, box),
        timeout=timeout,
        deadline=deadline,
    )


def read_deadline(base: float, expected_items: int | None) -> float:
    """The deadline of a read: `base` seconds (KITH_COMMUNITY_READ_DEADLINE_SECONDS), and
    SECONDS_PER_ITEM for each item it is expected to bring when that is known."""
    return base + (expected_items or 0) * SECONDS_PER_ITEM


def check_connection(
    session: Session, box: SecretBox, *, timeout: float | httpx.Timeout = DEFAULT_TIMEOUT
) -> CheckResult:
    """Call the community API with the stored settings: a CheckResult, or ConnectionFailed.

    Tells an operator (`kith connection test`, the settings page) whether syncs can work.
    """
    with client_for(session, box, timeout=timeout) as client:
        return client.check()


@contextmanager
def _collector_paused() -> Iterator[None]:
    """Python's cycle collector paused for the block. A page of 10,000 changes is some 100,000
    small objects with no cycles among them, and the collector's passes as they are made walk
    the whole heap of the process: a tenth of a delta sync's time at a million members."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _lines(chunks: Iterator[bytes]) -> Iterator[bytes]:
    """The body's lines as bytes, which orjson parses as they are: httpx's iter_lines decodes
    the body to text first (a seventh of the client's time to read and parse a stream)."""
    rest = b""
    for chunk in chunks:
        lines = (rest + chunk).split(b"\n")
        rest = lines.pop()
        yield from lines
    if rest:
        yield rest


def _server_message(response: httpx.Response, body: bytes) -> str:
    """The message of the API's JSON error, else the start of whatever the body was."""
    message = _api_message(body)
    if message is not None:
        return message
    text = _text(body).strip()
    return text[:200] if text else response.reason_phrase


def _api_message(body: bytes) -> str | None:
    """The `message` of a community API error body `{"error", "message"}`, if it is one."""
    return _api_field(body, "message")


def _api_error(body: bytes) -> str | None:
    """The `error` of a community API error body, if it is one (NoRoute: no route answered)."""
    return _api_field(body, "error")


def _api_field(body: bytes, name: str) -> str | None:
    try:
        parsed = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    if isinstance(parsed, dict) and isinstance(parsed.get(name), str):
        return str(parsed[name])
    return None


def _text(body: bytes) -> str:
    return body.decode("utf-8", errors="replace")


def _retry_after(response: httpx.Response) -> int | None:
    value = response.headers.get("retry-after", "")
    return int(value) if value.isascii() and value.isdigit() else None
