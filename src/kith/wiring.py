"""Fills the marketing side's ports with the connection, in every process that sends.

Called by the CLI, the web app, the demo and every job queue, with the settings they run
with, so that a mailing sent anywhere resyncs its community groups and checks for duplicate
mailings first, and the scheduler anywhere can sync, pull and make lists, on the same databases.
"""

from __future__ import annotations

from functools import partial

from kith.config import Settings
from kith.marketing.ports import ports


def wire(settings: Settings) -> None:
    from kith.connection.activity import pull_for_marketing
    from kith.connection.lists import provide_community_list
    from kith.connection.on_send import check_duplicates, sync_for_send

    ports.sync_group = partial(sync_for_send, settings=settings)
    ports.check_duplicates = partial(check_duplicates, settings=settings)
    ports.provide_community_list = partial(provide_community_list, settings=settings)
    ports.pull_activity = partial(pull_for_marketing, settings=settings)
