"""``sohoa user ...`` (people's accounts) and ``sohoa receipt`` (a hand-over receipt).

A password is never an argument (argv is visible to every user of the machine, and kept in
shell histories): it is prompted for twice on a terminal, else read as the first line of
standard input (``printf '%s\\n' "$PW" | sohoa user add ...``).
"""

from __future__ import annotations

import argparse
import getpass
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from config import Settings
from models.errors import ExitCode


def add_commands(commands: Any) -> None:
    user = commands.add_parser("user", help="people's accounts: add, list, unlock, disable")
    actions = user.add_subparsers(dest="user_command", required=True, metavar="ACTION")
    add = actions.add_parser("add", help="a new account (password from the terminal or stdin)")
    add.add_argument("user_name", metavar="NAME", help="what they type to sign in, e.g. lan.nguyen")
    add.add_argument("--display-name", required=True, help="their full name, as pages show it")
    add.add_argument("--role", required=True, choices=["counter", "agency", "operator"])
    add.add_argument("--counter", help="the counter (desk) id: required for counter accounts")
    add.add_argument("--agency", help="agency code (agency accounts only)")
    actions.add_parser("list", help="list accounts and their lock state (never passwords)")
    for name, what in (
        ("unlock", "clear a lockout after wrong passwords"),
        ("disable", "refuse every sign-in from now on and end open sessions"),
        ("password", "set a new password (from the terminal or stdin)"),
    ):
        action = actions.add_parser(name, help=what)
        action.add_argument("user_name", metavar="NAME")
    user.set_defaults(handler=cmd_user)

    receipt = commands.add_parser(
        "receipt", help="write a dossier's hand-over receipt (biên nhận số hóa) as a PDF"
    )
    receipt.add_argument("dossier_id")
    receipt.add_argument("-o", "--output", required=True, help="PDF file to write")
    receipt.set_defaults(handler=cmd_receipt)


def read_password(*, confirm: bool = True) -> str:
    """From the terminal without echo (asked twice), else the first line of stdin."""
    if sys.stdin.isatty():
        password = getpass.getpass("Password: ")
        if confirm and getpass.getpass("Again: ") != password:
            raise ValueError("the two passwords differ")
        return password
    return sys.stdin.readline().rstrip("\r\n")


def cmd_user(args: argparse.Namespace, settings: Settings) -> int:
    from flows.runtime import metadata_store
    from models import Role

    meta = metadata_store(settings)
    if args.user_command == "add":
        info = meta.create_account(
            user_name=args.user_name,
            display_name=args.display_name,
            password=read_password(),
            role=Role(args.role),
            counter_id=args.counter,
            agency_code=args.agency,
        )
        sys.stdout.write(f"account {info.user_name} created ({info.principal.role})\n")
    elif args.user_command == "list":
        for item in meta.list_accounts():
            p = item.principal
            if item.disabled_at:
                state = f"disabled {item.disabled_at:%Y-%m-%d}"
            elif item.locked_until and item.locked(datetime.now(UTC)):
                state = f"locked until {item.locked_until:%Y-%m-%d %H:%M}Z"
            else:
                state = "active"
            scope = p.counter_id or p.agency_code or "-"
            sys.stdout.write(f"{item.user_name:<20} {p.role:<8} {scope:<16} {state:<28} {p.name}\n")
    elif args.user_command == "unlock":
        info = meta.unlock_account(args.user_name)
        sys.stdout.write(f"unlocked {info.user_name}\n")
    elif args.user_command == "disable":
        info = meta.disable_account(args.user_name)
        sys.stdout.write(f"disabled {info.user_name}; its sessions are ended\n")
    else:
        info = meta.set_password(args.user_name, read_password())
        sys.stdout.write(f"new password set for {info.user_name}\n")
    return ExitCode.OK


def cmd_receipt(args: argparse.Namespace, settings: Settings) -> int:
    from app.receipts import receipt_pdf

    Path(args.output).write_bytes(receipt_pdf(settings, args.dossier_id))
    sys.stderr.write(f"wrote {args.output}\n")
    return ExitCode.OK
