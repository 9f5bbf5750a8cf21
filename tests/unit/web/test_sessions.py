"""The web admin's session cookie and CSRF token: signed, per side, tied to one session."""

from __future__ import annotations

from datetime import UTC, datetime

from kith.web.sessions import SESSION_LIFETIME, SessionSigner, SessionState

NOW = datetime(2026, 6, 15, 12, 0, tzinfo=UTC)
KEY = b"a test key"


def test_a_signed_in_cookie_reads_back_as_its_account_and_version() -> None:
    signer = SessionSigner("marketing", KEY)
    state = SessionState.signed_in(7, 3, NOW)

    read = signer.read(signer.cookie(state), now=NOW)

    assert read == SessionState(state.session_id, 7, 3, NOW)


def test_an_altered_or_foreign_cookie_reads_as_no_session() -> None:
    marketing, community = SessionSigner("marketing", KEY), SessionSigner("community", KEY)
    cookie = marketing.cookie(SessionState.signed_in(7, 3, NOW))
    payload, signature = cookie.split(".")

    assert marketing.read(cookie[:-2] + "xx", now=NOW) is None
    assert marketing.read(payload[:-2] + "xx." + signature, now=NOW) is None
    assert community.read(cookie, now=NOW) is None
    assert SessionSigner("marketing", b"another key").read(cookie, now=NOW) is None
    assert marketing.read("not a cookie", now=NOW) is None


def test_a_session_past_its_lifetime_keeps_its_id_but_not_its_account() -> None:
    signer = SessionSigner("community", KEY)
    state = SessionState.signed_in(7, 3, NOW)

    read = signer.read(signer.cookie(state), now=NOW + SESSION_LIFETIME * 1.01)

    assert read == SessionState(state.session_id)


def test_a_csrf_token_is_good_for_its_own_session_only() -> None:
    signer = SessionSigner("marketing", KEY)
    mine, other = SessionState.anonymous(), SessionState.anonymous()
    token = signer.csrf_token(mine)

    assert signer.csrf_valid(mine, token)
    assert not signer.csrf_valid(other, token)
    assert not signer.csrf_valid(mine, None)
    assert not signer.csrf_valid(None, token)
    assert not signer.csrf_valid(mine, SessionSigner("community", KEY).csrf_token(mine))
    assert not signer.csrf_valid(mine, signer.cookie(mine))
