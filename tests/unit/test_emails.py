"""The fast path of the email check answers exactly as email-validator does, where it answers."""

from __future__ import annotations

import pytest
from email_validator import EmailNotValidError, validate_email
from hypothesis import given, settings
from hypothesis import strategies as st

from kith.emails import _COMMON, InvalidEmail, email_key, normalize_email


def validator(address: str) -> str | None:
    try:
        return validate_email(address, check_deliverability=False).normalized
    except EmailNotValidError:
        return None


def kith(address: str) -> str | None:
    try:
        return normalize_email(address)
    except InvalidEmail:
        return None


ATOM = st.text(alphabet="abcXYZ019_%+-", min_size=1, max_size=12)
LABEL = st.text(alphabet="abcDEF019-", min_size=1, max_size=70)
TOP = st.sampled_from(
    ["org", "COM", "test", "local", "x1", "io-x", "a", "Localhost", "arpa", "b9c"]
)
common_shaped = st.builds(
    lambda atoms, labels, top: ".".join(atoms) + "@" + ".".join([*labels, top]),
    st.lists(ATOM, min_size=1, max_size=8),
    st.lists(LABEL, min_size=1, max_size=3),
    TOP,
)


@settings(max_examples=1000, deadline=None)
@given(address=common_shaped)
def test_addresses_of_the_common_shape_get_email_validators_verdict_and_form(
    address: str,
) -> None:
    assert kith(address) == validator(address)


@settings(max_examples=1000, deadline=None)
@given(address=st.text(alphabet="aZ0.@-_+\"' \\()[]<>,;:é\u00a0\u200b", max_size=40))
def test_any_text_gets_email_validators_verdict(address: str) -> None:
    assert kith(address) == validator(address.strip())


@pytest.mark.parametrize(
    ("address", "normal"),
    [
        ("Ann.Lee@Example.ORG", "Ann.Lee@example.org"),
        ("  bo+news@mail.example.net ", "bo+news@mail.example.net"),
        ("élise@exemple.fr", "élise@exemple.fr"),  # not ASCII: email-validator decides
    ],
)
def test_addresses_are_normalized(address: str, normal: str) -> None:
    assert normalize_email(address) == normal


def test_the_fast_path_takes_the_usual_addresses_and_leaves_the_rest() -> None:
    assert _COMMON.fullmatch("first.last42@members.example.edu")
    assert not _COMMON.fullmatch("a..b@example.org")
    assert not _COMMON.fullmatch('"quoted"@example.org')


def test_a_refused_address_names_itself_and_the_reason() -> None:
    with pytest.raises(InvalidEmail, match=r"'ann at example.org' is not a valid email address"):
        normalize_email("ann at example.org")


def test_the_email_key_ignores_case_and_blanks() -> None:
    assert email_key(" Ann@Example.org ") == email_key("ann@example.ORG") == "ann@example.org"
