"""Signed tokens: a Signer (the key's HMAC pads hashed once, for many tokens) signs exactly as
sign() does, and verify() accepts what either signed."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from kith.signing import Signer, sign, verify

payloads = st.dictionaries(
    st.text(max_size=5),
    st.one_of(st.integers(-(2**63), 2**63 - 1), st.text(max_size=40), st.none()),
    max_size=3,
)


@settings(max_examples=300, deadline=None)
@given(key=st.binary(max_size=150), purpose=st.binary(max_size=30), payload=payloads)
def test_a_signer_signs_as_sign_does(key: bytes, purpose: bytes, payload: dict[str, Any]) -> None:
    token = Signer(key, purpose).sign(payload)
    assert token == sign(payload, key=key, purpose=purpose)
    assert verify(token, key=key, purpose=purpose) == payload
