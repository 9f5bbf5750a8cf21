"""Who acts on the admin pages: the member behind the login, whom List Builder, credentials and
rules record as author and check to be a Super Admin."""

from __future__ import annotations

from sqlalchemy.orm import Session

from kith.community.accounts import Account
from kith.community.models import Member
from kith.web.site import Visitor


def acting_member(session: Session, visitor: Visitor) -> str:
    """The contact key of the member signed in (`by=` of the community's services)."""
    assert isinstance(visitor.account, Account)
    return session.get_one(Member, visitor.account.member_id).contact_key
