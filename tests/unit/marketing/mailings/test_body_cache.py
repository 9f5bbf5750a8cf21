"""Shared message bodies (kith.marketing.mailings.body_cache): recipients whose templates read
the same values share a body, yet each message is byte for byte the one a full rendering gives,
with the recipient's own links; templates that could tell two links apart share nothing."""

from __future__ import annotations

import re
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default
from typing import Any

import pytest

from kith.marketing.mailings.body_cache import TRIAL_LOOKUPS, Body
from kith.marketing.mailings.links import LinkMaker, read_link
from kith.marketing.mailings.messages import MessageBuilder, SubscriberFields
from kith.marketing.mailings.templates import RenderFailed
from kith.marketing.models import Mailing

KEY = b"test-signing-key"
LINKS = LinkMaker("https://kith.example.org", KEY)
BOUNDARY = re.compile(rb"===============\d{19}==")
DATE = re.compile(rb"Date: [^\r]*\r\n")
HTML = (
    '<html><body><p>Hello {{ first_name | default("there") }} from {{ fields.city }},</p>'
    '<p><a href="https://example.org/events?a=1&amp;b=2">The meetup</a> '
    '<a href="https://example.org/forum">The forum</a></p>'
    '<p><a href="{{ unsubscribe_url }}">Unsubscribe</a></p></body></html>'
)


def builder(html: str = HTML, subject: str = "Hi {{ first_name }}", **more: Any) -> MessageBuilder:
    mailing = Mailing(
        id=7,
        name="News",
        subject=subject,
        html=html,
        text=more.get("text"),
        from_address="news@example.org",
        from_name="Kith News",
    )
    return MessageBuilder(mailing, LINKS)


def subscriber(number: int, first_name: str | None = "Ann", **fields: Any) -> SubscriberFields:
    return SubscriberFields(
        f"member{number}@example.org", first_name, "Smith", f"R{number}", fields, {}
    )


def comparable(data: bytes) -> bytes:
    """A message without what differs from one rendering to the next: boundary and Date."""
    return DATE.sub(b"", BOUNDARY.sub(b"B", data))


def full(made: MessageBuilder, delivery_id: int, who: SubscriberFields) -> bytes:
    alone = builder(made.mailing.html, made.mailing.subject, text=made.mailing.text)
    alone.bodies.on = False  # every message rendered in full
    return alone.render(delivery_id, who.email, who).data


def parsed(data: bytes) -> EmailMessage:
    message = message_from_bytes(data.replace(b"\r\n", b"\n"), policy=default)
    assert isinstance(message, EmailMessage)
    return message


def links_of(message: EmailMessage) -> dict[str, list[int]]:
    """The delivery each signed link of the message names, by kind."""
    found: dict[str, list[int]] = {"u": [], "open": [], "click": []}
    html = message.get_body(("html",))
    text = message.get_body(("plain",))
    assert html is not None and text is not None
    everything = f"{message['List-Unsubscribe']} {html.get_content()} {text.get_content()}"
    # a token: its payload, a dot and its signature (32 bytes: 43 characters of base64)
    for kind, token in re.findall(r"/marketing/(u|t/open|t/click)/([\w-]+\.[\w-]{43})", everything):
        kind = kind.removeprefix("t/")
        signed = {"u": "unsubscribe", "open": "open", "click": "click"}[kind]
        found[kind].append(int(read_link(token, signed, key=KEY)["d"]))
    return found


def test_recipients_with_the_same_values_share_a_body_and_each_gets_their_own_links() -> None:
    made = builder()
    messages = {
        number: made.render(number, f"member{number}@example.org", subscriber(number, city="Lyon"))
        for number in (11, 12, 13, 14)
    }

    assert made.bodies.on
    for number, message in messages.items():
        assert comparable(message.data) == comparable(
            full(made, number, subscriber(number, city="Lyon"))
        )
        read = parsed(message.data)
        assert read["To"] == f"member{number}@example.org"
        assert message.message_id == f"<delivery-{number}.m7@example.org>"
        assert links_of(read) == {
            "u": [number, number, number],
            "open": [number],
            "click": [number, number],
        }


@pytest.mark.parametrize(
    ("html", "text"),
    [
        (HTML, None),
        # the unsubscribe link's token broken across quoted-printable's soft line breaks
        ("<p>" + "x" * 60 + '<a href="{{ unsubscribe_url }}">U</a>' + "y" * 150 + "</p>", None),
        # a text part given, short lines: sent as it is (7bit), the link in it too
        (HTML, "Hi {{ first_name }}\nLeave: {{ unsubscribe_url }}\n"),
        # non-Latin text is sent in base64, which mixes the link into its neighbours: not shared
        ("<p>" + "жизнь " * 40 + '<a href="{{ unsubscribe_url }}">U</a></p>', None),
        # the link followed by a letter reads differently for another token: not shared
        ('<p>{{ unsubscribe_url }}x <a href="https://example.org">x</a></p>', None),
        # a redirect to an address holding the unsubscribe link names the recipient: not shared
        ('<a href="https://partner.example/?u={{ unsubscribe_url }}">x</a>', None),
    ],
)
def test_every_message_is_the_one_a_full_rendering_gives(html: str, text: str | None) -> None:
    made = builder(html, text=text)
    people = [
        subscriber(n, first_name=("Ann", "Bo", None)[n % 3], city="Lyon") for n in range(90, 130)
    ]
    for number, who in enumerate(people, start=95):  # ids of two and of three digits
        message = made.render(number, who.email, who)
        assert comparable(message.data) == comparable(full(made, number, who)), number
        assert links_of(parsed(message.data))["u"][0] == number
    assert made.bodies.on  # no shared body differed from its full rendering


@pytest.mark.parametrize(
    "html",
    [
        "<p>{{ unsubscribe_url | upper }}</p>",
        "<p>{% if 'x' in unsubscribe_url %}x{% endif %}</p>",
        "<p>{% set leave = unsubscribe_url %}{{ leave }}</p>",
        "<p>{{ ['a', 'b'] | random }}</p>",
    ],
)
def test_templates_that_look_into_the_unsubscribe_link_or_draw_at_random_share_nothing(
    html: str,
) -> None:
    assert not builder(html).bodies.on


def test_a_field_read_only_at_some_keys_keys_the_body_on_those_alone() -> None:
    made = builder('{{ fields.city }} {{ fields["team"] }} {{ unsubscribe_url }}')
    assert made.bodies.reads is not None
    assert made.bodies.reads.keyed == (("fields", ("city", "team")),)
    # a dict attribute (fields.items) reads the whole of it
    made = builder("{% for k, v in fields.items() %}{{ k }}{% endfor %}{{ unsubscribe_url }}")
    assert made.bodies.reads is not None
    assert made.bodies.reads.whole == ("fields", "first_name")  # the subject reads first_name


def test_a_rendering_failure_fails_that_recipient_only_and_is_not_shared() -> None:
    made = builder(HTML + "{% if fields.boom %}{{ 1 // 0 }}{% endif %}")
    made.render(1, "member1@example.org", subscriber(1, city="Lyon"))
    with pytest.raises(RenderFailed, match="ZeroDivisionError"):
        made.render(2, "member2@example.org", subscriber(2, city="Lyon", boom=True))
    with pytest.raises(RenderFailed, match="ZeroDivisionError"):
        made.render(3, "member3@example.org", subscriber(3, city="Lyon", boom=True))
    fine = made.render(4, "member4@example.org", subscriber(4, city="Lyon"))
    assert links_of(parsed(fine.data))["u"] == [4, 4, 4]


def test_two_recipients_with_other_values_get_their_own_values() -> None:
    made = builder()
    ann = parsed(made.render(21, "a@example.org", subscriber(21, "Ann", city="Lyon")).data)
    bo = parsed(made.render(22, "b@example.org", subscriber(22, "Bo", city="Porto")).data)
    again = parsed(made.render(23, "c@example.org", subscriber(23, "Ann", city="Lyon")).data)
    for message, name, city in ((ann, "Ann", "Lyon"), (bo, "Bo", "Porto"), (again, "Ann", "Lyon")):
        html = message.get_body(("html",))
        assert html is not None and f"Hello {name} from {city}," in html.get_content()
        assert message["Subject"] == f"Hi {name}"


def test_a_shared_body_that_differs_from_the_full_rendering_turns_sharing_off() -> None:
    made = builder()
    first = subscriber(31, city="Lyon")
    made.render(31, first.email, first)
    # spoil the stored body, as a fault of the cache would (the first few shared ones are checked)
    [(key, body)] = made.bodies._bodies.items()
    assert isinstance(body, Body)
    made.bodies._bodies[key] = body._replace(subject=b"Subject: spoiled\r\n")

    second = subscriber(32, city="Lyon")
    message = made.render(32, second.email, second)

    assert comparable(message.data) == comparable(full(made, 32, second))
    assert not made.bodies.on


def test_sharing_stops_when_few_recipients_share_a_body() -> None:
    made = builder("<p>Hello {{ email }}</p>" + HTML)
    for number in range(TRIAL_LOOKUPS + 1):
        who = subscriber(number, city="Lyon")
        made.render(1000 + number, who.email, who)
    assert not made.bodies.on
    last = subscriber(5000, city="Lyon")
    message = made.render(5000, last.email, last)
    assert comparable(message.data) == comparable(full(made, 5000, last))
