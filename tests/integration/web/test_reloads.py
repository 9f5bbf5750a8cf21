"""A GET of a form's action (a reload of what the POST answered, a bookmark, an address typed
in) goes to the page the form is on, never to an error such as "Input should be a valid
integer" for /marketing/groups/refresh."""

from __future__ import annotations

import pytest

from kith.marketing.groups.target_groups import create_group
from kith.marketing.mailings.definition import MailingDraft, create_mailing
from tests.integration.web.test_app import ADMIN, MARKETER, NOW, Site, site  # noqa: F401
from tests.support.web_client import text_of

MARKETING_ACTIONS = [
    ("/groups/refresh", "/groups"),
    ("/groups/{group}/sync", "/groups/{group}"),
    ("/groups/{group}/delete", "/groups"),
    ("/mailings/{mailing}/send", "/mailings/{mailing}"),
    ("/mailings/{mailing}/test", "/mailings/{mailing}"),
    ("/mailings/{mailing}/schedule", "/mailings/{mailing}"),
    ("/mailings/{mailing}/unschedule", "/mailings/{mailing}"),
    ("/campaigns/7/activate", "/campaigns/7"),
    ("/campaigns/7/deactivate", "/campaigns/7"),
    ("/scoring/recompute", "/scoring"),
    ("/scoring/preview", "/scoring/edit"),
    ("/settings/integration/test", "/settings/integration"),
    ("/subscribers/5/reactivate", "/subscribers/5"),
    ("/subscribers/5/erase", "/subscribers/5"),
    ("/erasures/lift", "/subscribers"),
    ("/sign-out", "/sign-in"),
]
COMMUNITY_ACTIONS = [
    ("/members/3/delete", "/members/3"),
    ("/credentials/K-1/revoke", "/credentials"),
    ("/lists/L-1/delete", "/lists"),
    ("/lists/preview", "/lists/new"),
    ("/rules/R-1/delete", "/rules"),
]


def test_a_get_of_a_marketing_action_goes_to_its_page(site: Site) -> None:  # noqa: F811
    with site.marketing.transaction() as session:
        group = create_group(session, "Reloaded", now=NOW)
        mailing = create_mailing(
            session,
            MailingDraft(name="Reloaded", subject="Hi", html="<p>Hi</p>", include=["Reloaded"]),
            now=NOW,
        )
        ids = {"group": group.id, "mailing": mailing.id}
    marketer = site.signed_in("marketing", MARKETER)

    for action, page in MARKETING_ACTIONS:
        response = marketer.get(action.format(**ids))

        assert response.status_code == 303, (action, response.text[:300])
        assert response.headers["location"] == f"/marketing{page.format(**ids)}"
    assert "Reloaded" in text_of(marketer.page("/groups/{group}".format(**ids)))
    assert "Refresh Target Group List" in text_of(marketer.page("/groups"))


@pytest.mark.parametrize(("action", "page"), COMMUNITY_ACTIONS)
def test_a_get_of_a_community_action_goes_to_its_page(
    site: Site,  # noqa: F811
    action: str,
    page: str,
) -> None:
    admin = site.signed_in("community", ADMIN)

    response = admin.get(action)

    assert response.status_code == 303, response.text[:300]
    assert response.headers["location"] == f"/community{page}"
