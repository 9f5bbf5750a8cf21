"""`kith init` and `kith serve` as an operator runs them: real processes, real HTTP."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import orjson
import pytest

from kith.migrate import head_revision

KITH = [sys.executable, "-m", "kith"]


def kith_env(data_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KITH_")}
    return {**env, "KITH_DATA_DIR": str(data_dir), "KITH_SECRET_KEY": "serve-test"}


def test_init_creates_both_databases_then_reports_them_up_to_date(tmp_path: Path) -> None:
    env = kith_env(tmp_path / "var")
    first = subprocess.run([*KITH, "init"], env=env, capture_output=True, text=True, check=True)
    community_head = head_revision("community")
    assert "community" in first.stdout and f"migrated empty -> {community_head}" in first.stdout
    marketing_head = head_revision("marketing")
    assert "marketing" in first.stdout and f"migrated empty -> {marketing_head}" in first.stdout
    again = subprocess.run([*KITH, "init"], env=env, capture_output=True, text=True, check=True)
    assert again.stdout.count("up to date") == 2
    assert (tmp_path / "var" / "community.db").exists()
    assert (tmp_path / "var" / "marketing.db").exists()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def served_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    env = kith_env(tmp_path_factory.mktemp("serve") / "var")
    subprocess.run([*KITH, "init"], env=env, capture_output=True, check=True)
    return env


@contextmanager
def kith_serve(env: dict[str, str], *options: str) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    """`kith serve` as a process of its own on a free port, once it answers; its base URL."""
    port = free_port()
    process = subprocess.Popen(
        [*KITH, "serve", "--host", "127.0.0.1", "--port", str(port), *options],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    try:
        while True:
            try:
                httpx.get(f"{base}/community/health", timeout=1)
                break
            except httpx.TransportError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("kith serve did not come up") from None
                time.sleep(0.1)
        yield process, base
    finally:
        if process.poll() is None:
            process.terminate()
        process.wait(timeout=10)


@pytest.fixture(scope="module")
def served(served_env: dict[str, str]) -> Iterator[str]:
    with kith_serve(served_env) as (_, base):
        yield base


def test_serve_mounts_the_community_and_marketing_apps(served: str) -> None:
    assert httpx.get(f"{served}/community/health").json() == {"status": "ok"}
    assert httpx.get(f"{served}/marketing/health").json() == {"status": "ok"}
    spec = httpx.get(f"{served}/community/openapi.json").json()
    assert spec["info"]["title"] == "Kith community"
    assert "/api/v1/lists" in spec["paths"]


def test_the_api_refuses_a_request_without_credentials(served: str) -> None:
    response = httpx.get(f"{served}/community/api/v1/lists")
    assert response.status_code == 401
    assert response.headers["content-type"].startswith("application/json")


def test_the_served_marketing_api_tests_the_connection(
    served: str, served_env: dict[str, str]
) -> None:
    created = subprocess.run(
        [*KITH, "marketing", "tokens", "create", "--name", "ops", "--json"],
        env=served_env,
        capture_output=True,
        text=True,
        check=True,
    )
    token = orjson.loads(created.stdout)["token"]
    response = httpx.post(
        f"{served}/marketing/api/integration/test",
        headers={"Authorization": f"Bearer {token}"},
    )
    assert response.status_code == 409  # wired to the connection, which is not configured
    assert response.json()["reason"] == "not_configured"
