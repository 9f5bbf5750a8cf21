"""`kith community lists ...`: List Builder's Custom User Lists."""

from __future__ import annotations

import typer

app = typer.Typer(no_args_is_help=True, help="List Builder: Custom User Lists.")
