"""`kith community credentials ...`: the IAM keys the connection authenticates with."""

from __future__ import annotations

import typer

app = typer.Typer(no_args_is_help=True, help="API credentials (HLIAMKey / HLPassword).")
