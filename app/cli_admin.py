"""The ``sohoa`` administration commands: tokens, the database schema, demo signers,
separator sheets. ``app.cli`` parses the command line and calls these handlers. Also what
every command module shares: the stores, JSON on stdout.

Imports stay inside the handlers, as in ``app.cli``: ``sohoa process`` starts without them.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from config import Settings
from models.errors import ExitCode

if TYPE_CHECKING:
    from storage.metadata import MetadataStore
    from storage.objects import ObjectStore

log = logging.getLogger("sohoa")


def open_stores(settings: Settings) -> tuple[MetadataStore, ObjectStore]:
    """The process's metadata and object stores (the database opened and migrated)."""
    from storage.factory import metadata_store, object_store

    return metadata_store(settings), object_store(settings)


def print_json(data: object) -> None:
    """One JSON document on stdout, as every ``--json`` command prints it."""
    sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=2) + "\n")


def write_whole(target: Path, data: bytes) -> None:
    """``data`` at ``target``, replaced whole or not at all: written to a ``.part`` file
    beside it first, which is removed if the write fails."""
    partial = target.with_name(target.name + ".part")
    try:
        partial.write_bytes(data)
        partial.replace(target)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise


# --- db -----------------------------------------------------------------------------------


def cmd_db(args: argparse.Namespace, settings: Settings) -> int:
    from storage.metadata import MetadataStore
    from storage.migrate import current_revision, head_revision, upgrade_schema

    settings.data_dir.mkdir(parents=True, exist_ok=True)
    store = MetadataStore(settings.resolved_database_url, migrate=False)
    try:
        if args.db_command == "upgrade":
            applied = upgrade_schema(store.engine)
            state = "upgraded to" if applied else "already at"
            sys.stdout.write(f"schema {state} revision {head_revision()}\n")
        else:
            current = current_revision(store.engine)
            head = head_revision()
            note = "up to date" if current == head else f"behind (latest is {head})"
            sys.stdout.write(f"schema revision {current or 'none'}: {note}\n")
    finally:
        store.close()
    return ExitCode.OK


# --- demo signer --------------------------------------------------------------------------


def cmd_signer_demo(args: argparse.Namespace, settings: Settings) -> int:
    """A throwaway CA and digitiser certificate, for demos and training counters only."""
    from app.demo_pki import make_pki

    folder = Path(args.output)
    folder.mkdir(parents=True, exist_ok=True)
    pki = make_pki(folder, signer_common_name=args.name, password=args.password.encode())
    (folder / "password.txt").write_text(args.password, encoding="utf-8")
    (folder / "password.txt").chmod(0o600)
    sys.stdout.write(
        f"SOHOA_SIGNING_PKCS12={pki.pkcs12}\n"
        f"SOHOA_SIGNING_PASSWORD_FILE={folder / 'password.txt'}\n"
        f"SOHOA_DIGITISER_NAME={args.name}\n"
        f"SOHOA_TRUST_ROOTS={pki.root_certificate}\n"
    )
    log.warning("demo certificate: its signatures are not legal signatures")
    return ExitCode.OK


# --- tokens -------------------------------------------------------------------------------


def add_token_commands(commands: Any) -> None:
    """``sohoa token create|revoke|list``."""
    token = commands.add_parser("token", help="create, revoke or list access tokens")
    token_commands = token.add_subparsers(dest="token_command", required=True, metavar="ACTION")
    create = token_commands.add_parser("create", help="print a new token (shown once)")
    create.add_argument("--role", required=True, choices=["counter", "agency", "operator"])
    create.add_argument("--name", required=True, help="who holds it")
    create.add_argument("--agency", help="agency code (agency tokens only)")
    create.add_argument("--counter", help="counter id recorded on this token's batches")
    revoke = token_commands.add_parser("revoke", help="revoke a token by its id")
    revoke.add_argument("token_id")
    token_commands.add_parser("list", help="list tokens (never their secrets)")
    token.set_defaults(handler=cmd_token)


def cmd_token(args: argparse.Namespace, settings: Settings) -> int:
    from models import Role

    meta, _ = open_stores(settings)
    if args.token_command == "create":
        info, token = meta.create_token(
            name=args.name, role=Role(args.role), agency_code=args.agency, counter_id=args.counter
        )
        log.info("token %s created for %s (%s)", info.principal.token_id, args.name, args.role)
        sys.stdout.write(token + "\n")
    elif args.token_command == "revoke":
        info = meta.revoke_token(args.token_id)
        sys.stdout.write(f"revoked {info.principal.token_id} ({info.principal.name})\n")
    else:
        # A person's account carries its scope on a token of its own: named as such here.
        accounts = {a.principal.token_id: a.user_name for a in meta.list_accounts()}
        for item in meta.list_tokens():
            p = item.principal
            state = f"revoked {item.revoked_at:%Y-%m-%d}" if item.revoked_at else "active"
            holder = f"account {accounts[p.token_id]}" if p.token_id in accounts else p.name
            sys.stdout.write(
                f"{p.token_id}  {p.role:<8} {p.agency_code or '-':<16} {state:<18} {holder}\n"
            )
    return ExitCode.OK


# --- separator sheets ---------------------------------------------------------------------


def cmd_separator(args: argparse.Namespace, settings: Settings) -> int:
    from app.separator import write_separator_pdf

    write_separator_pdf(Path(args.output))
    log.info("wrote %s", args.output)
    return ExitCode.OK
