"""Both REST APIs fuzzed from their own OpenAPI documents with valid credentials (schemathesis,
in-process, seeded and bounded): no request gets a server error, and every answer has a status,
a content type and a body the document gives."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from typing import Any

import argon2
import hypothesis.strategies as st
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, seed, settings
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.errors import FailureGroup

from kith import passwords
from kith.community.app import create_community_app
from kith.community.credentials import create_credential
from kith.community.lists import create_list
from kith.config import Settings
from kith.connection.client import check_connection
from kith.csvimport.report import ImportReport
from kith.db import Database
from kith.marketing.app import create_marketing_app
from kith.marketing.campaigns.definition import create_campaign
from kith.marketing.groups.target_groups import create_group
from kith.marketing.mailings.definition import MailingDraft, create_mailing
from kith.marketing.subscriber_import import SubscriberRow, SubscriberUpsert
from kith.marketing.tokens import create_token
from tests.support.community_world import add_member
from tests.support.fake_clock import FakeClock

NOW = datetime(2026, 6, 15, 12, 0, tzinfo=UTC)
SEED = 21
EXAMPLES = 10  # per operation: a few hundred requests per API, seconds each
CHECKS = (
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
)
PATH_PARAMETER = re.compile(r"\{(\w+)\}")
# Path values that once made servers fail: past PostgreSQL's int4 and int8 (and so SQLite's
# INTEGER), and a digit Python's int() reads but no id is written with.
EDGE_VALUES = ("2147483648", "9223372036854775808", "³")


@dataclass
class Run:
    """What a fuzzing run did, and what it found (one line per failing request)."""

    failures: list[str] = field(default_factory=list)
    operations: int = 0
    requests: int = 0
    server_errors: int = 0
    seconds: float = 0.0

    def figures(self) -> str:
        return (
            f"{self.operations} operations, {self.requests} requests, "
            f"{self.server_errors} server errors, {len(self.failures)} failures, "
            f"{self.seconds:.1f} s"
        )


def fuzz(schema: schemathesis.BaseSchema, headers: dict[str, str], known: dict[str, Any]) -> Run:
    """Every operation of `schema` gets EXAMPLES requests, positive and negative, some of them
    naming the objects in `known` (by path parameter) so that requests reach past a 404, then
    one request for each of EDGE_VALUES in its path parameters."""
    run = Run()
    started = time.monotonic()
    send = partial(_send, run, headers)
    for result in schema.get_all_operations():
        operation = result.ok()
        run.operations += 1
        strategies = [operation.as_strategy(mode) for mode in GenerationMode]
        names = set(PATH_PARAMETER.findall(operation.path))
        if names and names <= set(known):
            fixed = {name: known[name] for name in names}
            strategies.append(operation.as_strategy(path_parameters=fixed))
        _examples(st.one_of(strategies), send, EXAMPLES)()
        for value in EDGE_VALUES if names else ():
            edge = operation.as_strategy(path_parameters=dict.fromkeys(names, value))
            _examples(edge, send, 1)()
    run.seconds = time.monotonic() - started
    return run


def _examples(
    cases: st.SearchStrategy[schemathesis.Case],
    send: Callable[[schemathesis.Case], None],
    count: int,
) -> Callable[[], None]:
    """A seeded Hypothesis run of `send` over `count` of `cases`: no shrinking, no database."""

    @seed(SEED)
    @settings(
        max_examples=count,
        deadline=None,
        database=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(cases)
    def examples(case: schemathesis.Case) -> None:
        send(case)

    return examples


def _send(run: Run, headers: dict[str, str], case: schemathesis.Case) -> None:
    """Send one request and record (rather than raise) what is wrong with its answer."""
    run.requests += 1
    request = f"{case.method} {case.formatted_path}"
    try:
        response = case.call(headers=headers)
    except Exception as error:  # the app raised: the server's answer would be a 500
        run.server_errors += 1
        run.failures.append(f"{request}: raised {error!r}")
        return
    run.server_errors += response.status_code >= 500
    for check in CHECKS:
        try:
            case.validate_response(response, checks=[check], headers=headers)
        except FailureGroup as failed:
            for failure in failed.exceptions:
                run.failures.append(f"{request} -> {response.status_code}: {failure.title}")


def operations_in(document: dict[str, Any]) -> int:
    return sum(len(operations) for operations in document["paths"].values())


@pytest.fixture
def cheap_hashes(monkeypatch: pytest.MonkeyPatch) -> None:
    """Argon2 at its cheapest: the community API verifies the password on every request."""
    cheap = argon2.PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
    monkeypatch.setattr(passwords, "_hasher", cheap)


def test_the_community_api_answers_generated_requests_as_its_document_says(
    community_db: Database, settings: Settings, cheap_hashes: None
) -> None:
    with community_db.transaction() as session:
        add_member(session, "admin", email="admin@example.org", is_super_admin=True)
        add_member(session, "ann", email="ann@example.org", legacy_contact_key="R-1")
        issued = create_credential(session, name="Fuzzer", by="admin", now=NOW)
        listed = create_list(
            session,
            name="Informz Everyone",
            criteria={"field": "contact_key", "op": "in", "value": ["ann"]},
            by="admin",
            now=NOW,
        )
    app = create_community_app(community_db, settings)
    app.state.clock = FakeClock(NOW)
    headers = {"HLIAMKey": issued.credential.iam_key, "HLPassword": issued.password}

    run = fuzz(
        schemathesis.openapi.from_asgi("/openapi.json", app),
        headers,
        {"key": listed.list_key, "contact_key": "ann"},
    )

    print(f"community API: {run.figures()}")
    assert run.server_errors == 0 and run.failures == [], "\n".join(run.failures)
    assert run.operations == operations_in(app.openapi())


def test_the_marketing_api_answers_generated_requests_as_its_document_says(
    marketing_db: Database, settings: Settings
) -> None:
    with marketing_db.transaction() as session:
        issued = create_token(session, name="Fuzzer", now=NOW)
        rows = [SubscriberRow(2, "ann@example.org", "R-1")]
        SubscriberUpsert(session, now=NOW, source="import").write(rows, ImportReport())
        create_group(session, "Readers", now=NOW)
        draft = MailingDraft(name="Hello", subject="Hi", html="<p>Hi</p>", include=["Readers"])
        mailing = create_mailing(session, draft, now=NOW)
        welcome = {
            "name": "Welcome",
            "activation": {"group": "Readers"},
            "steps": [{"id": "hello", "mailing": "Hello"}],
        }
        create_campaign(session, welcome, now=NOW)
    app = create_marketing_app(
        marketing_db,
        settings.model_copy(update={"marketing_db_url": marketing_db.url}),
        connection_check=partial(check_connection, timeout=1),
    )
    app.state.clock = FakeClock(NOW)
    known = {
        "name": "Readers",
        "campaign": "Welcome",
        "mailing_id": mailing.id,
        "reference": "R-1",
    }

    run = fuzz(
        schemathesis.openapi.from_asgi("/openapi.json", app),
        {"Authorization": f"Bearer {issued.token}"},
        known,
    )

    print(f"marketing API: {run.figures()}")
    assert run.server_errors == 0 and run.failures == [], "\n".join(run.failures)
    assert run.operations == operations_in(app.openapi())
