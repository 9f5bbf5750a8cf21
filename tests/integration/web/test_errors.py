"""The framework's own refusals in the house's error shape, over real HTTP (the whole app on
loopback): 404 for a path nothing answers, 405 naming in Allow every method the path takes, and
both OpenAPI documents describing the errors as they are answered."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from kith.app import create_app
from kith.config import Settings
from kith.web.loopback import serve_on_loopback

DOCUMENTS = ("/community/openapi.json", "/marketing/openapi.json")
ERROR_OUT = {"$ref": "#/components/schemas/ErrorOut"}


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[httpx.Client]:
    """Kith on loopback; nothing here reaches a database."""
    folder = tmp_path_factory.mktemp("errors")
    settings = Settings(data_dir=folder / "var", secret_key="errors-test-secret")
    with (
        serve_on_loopback(create_app(settings)) as base_url,
        httpx.Client(base_url=base_url, timeout=60) as http,
    ):
        yield http


def documented_methods(document: dict[str, Any], prefix: str, path: str) -> set[str]:
    """The methods the document gives for every path template `path` fits."""
    methods: set[str] = set()
    for template, operations in document["paths"].items():
        pattern = re.sub(r"\\{\w+\\}", "[^/]+", re.escape(prefix + template))
        if re.fullmatch(pattern, path):
            methods.update(method.upper() for method in operations)
    return methods


@pytest.mark.parametrize(
    "path",
    ["/nowhere", "/marketing/nowhere", "/community/api/v1/nowhere", "/marketing/static/no.css"],
)
def test_a_path_nothing_answers_gets_404_in_the_error_shape(
    client: httpx.Client, path: str
) -> None:
    response = client.get(path)

    assert response.status_code == 404
    assert response.json() == {"error": "NoRoute", "message": f"nothing is at {path}"}


@pytest.mark.parametrize("document_path", DOCUMENTS)
def test_a_method_an_api_path_does_not_take_gets_405_naming_every_method_it_takes(
    client: httpx.Client, document_path: str
) -> None:
    document = client.get(document_path).json()
    prefix = document_path.removesuffix("/openapi.json")
    for template in document["paths"]:
        path = prefix + re.sub(r"\{\w+\}", "x", template)
        allowed = documented_methods(document, prefix, path)

        response = client.patch(path)

        assert response.status_code == 405, (path, response.text)
        assert set(response.headers["allow"].split(", ")) == allowed, path
        assert response.json()["error"] == "MethodNotAllowed"
        assert response.json()["message"].startswith(f"{path} does not take PATCH; it takes ")


def test_a_forms_action_names_post_and_get_in_allow(client: httpx.Client) -> None:
    """GET goes back to the form's page (test_reloads.py); other methods are refused."""
    response = client.put("/marketing/groups/1/delete")

    assert response.status_code == 405
    assert response.headers["allow"] == "GET, POST"


@pytest.mark.parametrize("document_path", DOCUMENTS)
def test_the_openapi_documents_give_every_error_the_error_shape(
    client: httpx.Client, document_path: str
) -> None:
    document = client.get(document_path).json()

    assert "HTTPValidationError" not in document["components"]["schemas"]
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            responses = operation["responses"]
            for status, response in responses.items():
                if status.startswith(("4", "5")):
                    schema = response["content"]["application/json"]["schema"]
                    assert schema["$ref"].endswith(("/ErrorOut", "/RejectedOut", "/CheckFailedOut"))
            if "application/json" in operation.get("requestBody", {}).get("content", {}):
                assert responses["400"]["content"]["application/json"]["schema"] == ERROR_OUT
            if "{" in path:
                assert "404" in responses, (method, path)


@pytest.mark.parametrize(
    ("document_path", "method", "path", "statuses"),
    [
        ("/marketing/openapi.json", "delete", "/api/groups/{name}", {"404", "409"}),
        ("/marketing/openapi.json", "post", "/api/campaigns/{campaign}/activate", {"404", "409"}),
        ("/community/openapi.json", "get", "/api/v1/lists/{key}/members", {"400", "404"}),
        ("/community/openapi.json", "post", "/api/v1/lists", {"400", "403", "409", "422"}),
        ("/community/openapi.json", "put", "/api/v1/lists/{key}", {"403", "404", "409"}),
        ("/community/openapi.json", "delete", "/api/v1/lists/{key}", {"403", "404"}),
    ],
)
def test_the_openapi_documents_give_the_refusals_a_route_can_answer(
    client: httpx.Client, document_path: str, method: str, path: str, statuses: set[str]
) -> None:
    responses = client.get(document_path).json()["paths"][path][method]["responses"]

    assert statuses <= set(responses)
