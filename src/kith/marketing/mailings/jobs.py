"""The mailing's background job: a send, run by a worker or by the command that asked for it."""

from __future__ import annotations

import time

from kith.clock import utcnow
from kith.config import Settings
from kith.db import Database
from kith.encryption import SecretBox
from kith.jobs import JobContext, JobQueue, job
from kith.marketing.mailings.definition import get_mailing
from kith.marketing.mailings.sending import SendOptions, request_send, send_mailing_now
from kith.marketing.mailings.smtp import mail_transport
from kith.marketing.models import Mailing
from kith.marketing.workers import workers_alive

POLL_SECONDS = 0.2


@job
def send_mailing(context: JobContext, mailing_id: int) -> None:
    """Send (or resume sending) mailing `mailing_id`; a second job for it finds it leased."""
    run_send(context.marketing, context.settings, mailing_id)


def run_send(db: Database, settings: Settings, mailing_id: int) -> Mailing:
    with db.session() as session:
        transport = mail_transport(session, settings, SecretBox.from_settings(settings))
    return send_mailing_now(db, settings, mailing_id, transport=transport, clock=utcnow)


def start_send(
    db: Database, settings: Settings, mailing_id: int, options: SendOptions, *, wait: bool
) -> Mailing:
    """Ask for a send; with `wait`, the mailing once the send stopped (sent, held ...): a
    worker's work when one is alive, else this process's own."""
    with db.transaction() as session:
        request_send(session, mailing_id, options, now=utcnow())
    JobQueue(settings).enqueue(send_mailing.__name__, mailing_id)
    if not wait:
        with db.session() as session:
            return get_mailing(session, mailing_id)
    while True:
        if workers_alive(db, now=utcnow()):
            with db.session() as session:
                mailing = get_mailing(session, mailing_id)
        else:  # nobody else will: send here (or wait for a sender elsewhere to finish)
            mailing = run_send(db, settings, mailing_id)
        if mailing.status != "sending":
            return mailing
        time.sleep(POLL_SECONDS)
