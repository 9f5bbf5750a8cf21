"""A person at the web admin, over real HTTP: a cookie jar, sign-in, and forms sent with their
CSRF token as a browser sends them (tests/e2e drives a real browser; this one reads HTML)."""

from __future__ import annotations

import re
from typing import Any

import httpx

CSRF = re.compile(r'<meta name="csrf-token" content="([^"]+)">')
PASSWORD = "correct horse battery staple"


class WebClient:
    """One visitor of one side (`/marketing` or `/community`) of a served Kith."""

    def __init__(self, base_url: str, side: str, *, address: str = "127.0.0.1") -> None:
        """`address`: the loopback address the visitor connects from (127.0.0.0/8 all works)."""
        self.http = httpx.Client(
            base_url=f"{base_url}/{side}",
            follow_redirects=False,
            transport=httpx.HTTPTransport(local_address=address),
        )
        self.side = side

    def close(self) -> None:
        self.http.close()

    def get(self, path: str, **params: Any) -> httpx.Response:
        return self.http.get(path, params=params)

    def page(self, path: str, **params: Any) -> str:
        """A page's HTML, which must answer 200."""
        response = self.get(path, **params)
        assert response.status_code == 200, (path, response.status_code, response.text[:500])
        return response.text

    def csrf_token(self) -> str:
        """This session's token, from any page (the sign-in page, or where it sends one)."""
        found = CSRF.search(self.http.get("/sign-in", follow_redirects=True).text)
        assert found, "no CSRF token on the page"
        return found.group(1)

    def post(
        self, path: str, data: dict[str, Any] | None = None, *, csrf: bool = True
    ) -> httpx.Response:
        """A form as the page at `path`'s form would send it (with this session's token)."""
        fields = dict(data or {})
        if csrf:
            fields["csrf_token"] = self.csrf_token()
        return self.http.post(path, data=fields)

    def post_json(self, path: str, body: Any) -> httpx.Response:
        """What the pages' scripts send: JSON, the token in a header."""
        headers = {"X-CSRF-Token": self.csrf_token(), "Accept": "application/json"}
        return self.http.post(path, json=body, headers=headers)

    def sign_in(self, email: str, password: str = PASSWORD) -> httpx.Response:
        response = self.post("/sign-in", {"email": email, "password": password})
        assert response.status_code == 303, response.text[:500]
        return response


def text_of(html: str) -> str:
    """A page's text without tags, white space collapsed, for asserting what a person reads."""
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))
