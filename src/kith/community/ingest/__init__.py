"""Imports into the community: members, memberships and activity, streamed and set-based."""

from kith.community.ingest.activity import ACTIVITY_COLUMNS, import_activity, record_activity
from kith.community.ingest.members import MEMBER_COLUMNS, import_members
from kith.community.ingest.memberships import MEMBERSHIP_COLUMNS, import_memberships
from kith.csvimport.report import ImportRejected, ImportReport, RejectedRow

__all__ = [
    "ACTIVITY_COLUMNS",
    "MEMBERSHIP_COLUMNS",
    "MEMBER_COLUMNS",
    "ImportRejected",
    "ImportReport",
    "RejectedRow",
    "import_activity",
    "import_members",
    "import_memberships",
    "record_activity",
]
