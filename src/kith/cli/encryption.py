"""`kith secrets ...`: the keys that encrypt the secrets Kith stores (kith.encryption)."""

from __future__ import annotations

import typer

from kith.cli.context import console, marketing_db, print_json, user_errors
from kith.config import get_settings
from kith.encryption import SecretBox
from kith.marketing.integration import reencrypt_secrets

app = typer.Typer(no_args_is_help=True, help="Encryption keys of the stored secrets.")


@app.command("rotate")
def rotate(as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """Encrypt every stored secret with the newest key.

    Without KITH_SECRET_KEY a new key is first generated at the top of the key file. With it,
    the newest key is its first secret: put a new one first (KITH_SECRET_KEY=new,old) and run
    this; the old secret can then be removed.
    """
    db = marketing_db()
    with user_errors():
        box = SecretBox.from_settings(get_settings())
        if box.key_file is not None:
            box.rotate_keyfile()
        with db.transaction() as session:
            reencrypted = reencrypt_secrets(session, box)
    db.dispose()
    if as_json:
        print_json(
            {
                "key_source": box.source,
                "key_file": None if box.key_file is None else str(box.key_file),
                "new_key": box.key_file is not None,
                "keys": box.key_count,
                "reencrypted": reencrypted,
            }
        )
        return
    if box.key_file is not None:
        console.print(
            f"Added a new key at the top of {box.key_file} ({box.key_count} keys, newest first).",
            highlight=False,
        )
    else:
        console.print(
            f"The keys come from KITH_SECRET_KEY ({box.key_count}); its first secret is the "
            "newest key.",
            highlight=False,
        )
    console.print(
        f"Re-encrypted {reencrypted} stored secret{'' if reencrypted == 1 else 's'} with the "
        "newest key. Older keys still decrypt backups; remove them once nothing needs them.",
        highlight=False,
    )
