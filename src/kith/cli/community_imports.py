"""`kith community members|memberships|activity import` and `activity-types`."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Add the import command groups to `kith community`."""
