"""A mailing's report: what was sent and what recipients did, also by community activity.

Recipients left out of the send (skipped) are not counted. `bounced` counts the recipients
bounced now (refused at the send, or by a bounce since); `hard_bounces`, `soft_bounces` and
`complaints` count the recipients the bounce intake recorded each of against this mailing,
whatever their status became.

"Active in the community" is what the community report says of the same people at the same
moment (kith.marketing.reports.active), in either edition: some activity pulled for their
Remote ID in the last 30 days. Recipients without a Remote ID (or erased since) are counted apart
as `unknown`.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from typing import Any

from sqlalchemy import case, select
from sqlalchemy.orm import Session

from kith.erasures import ERASED_BOUNCED
from kith.marketing.bounces.models import Bounce
from kith.marketing.mailings.definition import get_mailing
from kith.marketing.models import Delivery, DeliveryEvent, Subscriber
from kith.marketing.reports.active import active_in_community

SEGMENTS = ("active", "inactive", "unknown")
FIGURES = (
    "sent",
    "failed",
    "deferred",
    "bounced",
    "hard_bounces",
    "soft_bounces",
    "complaints",
    "opened",
    "clicked",
    "unsubscribed",
)
# what the bounce intake recorded against a delivery (kith.marketing.bounces), as figures
_BOUNCE_FIGURES = {"hard": "hard_bounces", "soft": "soft_bounces", "complaint": "complaints"}


def mailing_report(session: Session, mailing_id: int, *, now: datetime) -> dict[str, Any]:
    """Counts per figure, overall and per community-activity segment as of `now` (unique
    people)."""
    mailing = get_mailing(session, mailing_id)
    events: dict[int, set[str]] = {}
    rows = session.execute(
        select(DeliveryEvent.delivery_id, DeliveryEvent.kind)
        .join(Delivery, Delivery.id == DeliveryEvent.delivery_id)
        .where(Delivery.mailing_id == mailing.id)
    )
    for delivery_id, kind in rows.tuples():
        events.setdefault(delivery_id, set()).add(kind)
    bounces = session.execute(
        select(Bounce.delivery_id, Bounce.kind)
        .where(Bounce.mailing_id == mailing.id, Bounce.delivery_id.is_not(None))
        .distinct()
    )
    for bounced_id, kind in bounces.tuples():
        events.setdefault(bounced_id or 0, set()).add(_BOUNCE_FIGURES[kind])
    totals: Counter[str] = Counter()
    by_segment: dict[str, Counter[str]] = {segment: Counter() for segment in SEGMENTS}
    segment_of = case(
        (Subscriber.remote_id.is_(None), "unknown"),
        (active_in_community(now), "active"),
        else_="inactive",
    )
    deliveries = session.execute(
        select(Delivery.id, Delivery.status, Delivery.detail, Subscriber.status, segment_of)
        .outerjoin(Subscriber, Subscriber.id == Delivery.subscriber_id)
        .where(Delivery.mailing_id == mailing.id, Delivery.status != "skipped")  # left out
        .execution_options(yield_per=10_000)
    )
    for delivery_id, status, detail, subscriber_status, segment_name in deliveries.tuples():
        if detail == ERASED_BOUNCED:  # an erased person who had bounced still counts
            subscriber_status = "bounced"
        figures = _figures(status, subscriber_status, events.get(delivery_id, set()))
        segment = by_segment[segment_name]
        for figure in figures:
            totals[figure] += 1
            segment[figure] += 1
        totals["recipients"] += 1
        segment["recipients"] += 1
    return {
        "mailing": mailing.id,
        "name": mailing.name,
        "status": mailing.status,
        "status_reason": mailing.status_reason,
        "skipped_malformed": mailing.skipped_malformed,
        "totals": {name: totals[name] for name in ("recipients", *FIGURES)},
        "by_community_activity": {
            segment: {name: counts[name] for name in ("recipients", *FIGURES)}
            for segment, counts in by_segment.items()
        },
    }


def _figures(status: str, subscriber_status: str | None, kinds: set[str]) -> list[str]:
    figures = [status] if status in ("sent", "failed", "deferred") else []
    if figures and subscriber_status == "bounced":  # refused for good, or marked so since
        figures.append("bounced")
    figures += [name for name in _BOUNCE_FIGURES.values() if name in kinds]
    figures += [name for kind, name in (("open", "opened"), ("click", "clicked")) if kind in kinds]
    if "unsubscribe" in kinds:
        figures.append("unsubscribed")
    return figures
