"""`kith db copy`: move an embedded installation's databases to PostgreSQL."""

from __future__ import annotations

import typer
from rich.table import Table
from sqlalchemy import make_url

from kith.cli.context import console, print_json, user_errors
from kith.config import get_settings
from kith.db import Database
from kith.dbcopy import copy_sides, without_password
from kith.errors import InvalidInput
from kith.migrate import SIDES

app = typer.Typer(no_args_is_help=True, help="The databases: move them to PostgreSQL.")

SETTING = {"community": "KITH_COMMUNITY_DB_URL", "marketing": "KITH_MARKETING_DB_URL"}


@app.command("copy")
def copy(
    to: str | None = typer.Option(
        None, "--to", metavar="URL", help="postgresql://... for the one side --side names."
    ),
    side: str = typer.Option(
        "both", "--side", metavar="SIDE", help="community, marketing or both."
    ),
    community_to: str | None = typer.Option(
        None, "--community-to", metavar="URL", help="The community side's database."
    ),
    marketing_to: str | None = typer.Option(
        None, "--marketing-to", metavar="URL", help="The marketing side's database."
    ),
    as_json: bool = typer.Option(False, "--json", help="Rows per table as JSON."),
) -> None:
    """Copy the SQLite databases of this data dir into empty PostgreSQL databases.

    Stop `kith serve` first. Each target is migrated, must hold no data, and gets every table
    in one transaction; the SQLite files are left as they were.
    """
    settings = get_settings()
    sources = {"community": settings.community_url, "marketing": settings.marketing_url}
    with user_errors():
        targets = copy_targets(side, to, community_to, marketing_to)
        copies = {name: (Database(sources[name]), Database(url)) for name, url in targets.items()}
        try:
            copied = copy_sides(copies)
        finally:
            for databases in copies.values():
                for db in databases:
                    db.dispose()
    rows = {name: {item.table: item.rows for item in tables} for name, tables in copied.items()}
    if as_json:
        print_json(
            {name: {"to": without_password(targets[name]), "tables": rows[name]} for name in rows}
        )
        return
    for name, tables in rows.items():
        _print_side(name, without_password(targets[name]), tables)
    console.print("Now run every kith process with:", highlight=False)
    for name, url in targets.items():
        console.print(f"  {SETTING[name]}={without_password(url)}", markup=False, highlight=False)


def _print_side(side: str, target: str, tables: dict[str, int]) -> None:
    table = Table(title=f"{side} -> {target}", title_justify="left")
    table.add_column("table")
    table.add_column("rows", justify="right")
    for name, rows in tables.items():
        table.add_row(name, f"{rows:,}")
    table.add_row("total", f"{sum(tables.values()):,}", end_section=True)
    console.print(table)


def copy_targets(
    side: str, to: str | None, community_to: str | None, marketing_to: str | None
) -> dict[str, str]:
    """Which side goes to which database, from `kith db copy`'s options.

    `--to` names the target of the one side `--side` names; `--community-to` and
    `--marketing-to` name each side's; `--side both` needs both.
    """
    if side not in (*SIDES, "both"):
        raise InvalidInput(f"--side must be community, marketing or both, not {side!r}")
    named = {"community": community_to, "marketing": marketing_to}
    targets = {name: url for name, url in named.items() if url}
    if to is not None:
        if side == "both":
            raise InvalidInput(
                "--to names one side's database: add --side community or --side marketing, or "
                "give --community-to and --marketing-to (each side needs a database of its own)"
            )
        if side in targets and targets[side] != to:
            raise InvalidInput(f"--to and --{side}-to name two databases for the {side} side")
        targets[side] = to
    wanted = SIDES if side == "both" else (side,)
    missing = [name for name in wanted if name not in targets]
    if missing:
        options = " and ".join(f"--{name}-to" for name in missing)
        if side != "both":
            options += " (or --to)"
        elif len(missing) == 1:
            options += f", or --side {next(iter(targets))} to copy that side alone"
        raise InvalidInput(
            f"no target database for the {' and the '.join(missing)} side: give {options}"
        )
    chosen = {name: targets[name] for name in wanted}
    if len(chosen) == 2 and _same_database(*chosen.values()):
        raise InvalidInput("the community and marketing sides need two databases, not one")
    return chosen


def _same_database(first: str, second: str) -> bool:
    a, b = make_url(first), make_url(second)
    return (a.host, a.port, a.database) == (b.host, b.port, b.database)
