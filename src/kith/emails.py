"""Email addresses: email-validator's syntax check and normal form, fast for common shapes.

email-validator costs about 23 µs an address, which is most of a million-member sync. Plain
ASCII addresses (dot-separated atoms of letters, digits and `_%+-` at a domain of ordinary
labels, the last ending in a letter) are a strict subset of what it accepts, and its normal form
for them is the address with the domain in lower case: one regular expression answers for those
(under 1 µs); everything else goes to email-validator itself. tests/unit/test_emails.py checks
that the two agree wherever the fast path answers.
"""

from __future__ import annotations

import re

from email_validator import EmailNotValidError, validate_email

from kith.errors import InvalidInput

# Top-level names email-validator refuses (its SPECIAL_USE_DOMAIN_NAMES, which may grow: an
# address whose last label is listed here, or any single-label domain, takes the slow path).
_SPECIAL_USE = frozenset(("arpa", "invalid", "local", "localhost", "onion", "test"))
_COMMON = re.compile(
    r"(?P<local>[A-Za-z0-9_%+-]+(?:\.[A-Za-z0-9_%+-]+)*)"
    r"@(?P<domain>(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+"
    r"(?P<top>[A-Za-z](?:[A-Za-z0-9-]{0,61}[A-Za-z])?))"
)
_MAX_LOCAL = 64
_MAX_ADDRESS = 254


class InvalidEmail(InvalidInput):
    """An address that fails email-validator's syntax check."""


def normalize_email(text: str) -> str:
    """The address in email-validator's normal form (syntax only, no DNS), or InvalidEmail."""
    address = text.strip()
    common = _COMMON.fullmatch(address)
    if (
        common is not None
        and len(common["local"]) <= _MAX_LOCAL
        and len(address) <= _MAX_ADDRESS
        and "--" not in common["domain"]  # punycode and its look-alikes: let IDNA judge them
        and common["top"].lower() not in _SPECIAL_USE
    ):
        return f"{common['local']}@{common['domain'].lower()}"
    try:
        return validate_email(address, check_deliverability=False).normalized
    except EmailNotValidError as error:
        raise InvalidEmail(f"{address!r} is not a valid email address: {error}") from None


def email_key(email: str) -> str:
    """What makes two addresses the same one: their text, case-insensitively."""
    return email.strip().lower()
