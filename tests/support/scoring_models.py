"""Scoring models for tests of the editor: one with every kind of rule `kith scoring set` takes."""

from __future__ import annotations

from typing import Any


def every_kind(group: str) -> dict[str, Any]:
    """Rules of every kind, with and without cap and window; the group rule names `group`."""
    return {
        "rules": [
            {"name": "posts", "activity": ["thread_started", "discussion_reply"], "points": 5,
             "cap": 50, "within_days": 90},
            {"name": "anything", "activity": "any", "points": 1},
            {"name": "opens", "mailing": "open", "points": 2, "within_days": 30},
            {"name": "clicks", "mailing": "click", "points": 3, "cap": 9},
            {"name": "helpers", "group": group, "points": 20},
            {"name": "board", "field": "member_type", "value": "Board", "points": 4, "cap": 4},
        ],
        "grades": [{"grade": "Gold", "min_score": 40}, {"grade": "Silver", "min_score": 0}],
    }  # fmt: skip
