"""People's accounts (issue 26): clerks sign in with their name and a password, wrong
passwords lock the account, and what they upload is recorded as theirs."""

from __future__ import annotations

import io
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from config import Settings
from flows.runtime import metadata_store
from models import Role
from storage.metadata import passwords
from tests.service_support import AGENCY_A, SAME_ORIGIN, World, open_world, run_nothing

PASSWORD = "ba con mèo trèo cây cau"
LOCK = timedelta(minutes=15)


@pytest.fixture
def world(tmp_path: Path, database_url: str) -> Iterator[World]:
    settings = Settings(data_dir=tmp_path / "data", database_url=database_url, workers=1)
    with open_world(settings, run=run_nothing) as world:
        yield world


def _clerk(settings: Settings, name: str = "lan.nguyen", counter: str = "HN-01") -> None:
    metadata_store(settings).create_account(
        user_name=name, display_name="Nguyễn Thị Lan", password=PASSWORD,
        role=Role.COUNTER, counter_id=counter,
    )  # fmt: skip


def _count_hashes(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    calls: list[int] = []
    real = passwords._scrypt

    def counted(password: str, salt: bytes, params: passwords.Params) -> bytes:
        calls.append(params.n)
        return real(password, salt, params)

    monkeypatch.setattr(passwords, "_scrypt", counted)
    return calls


def test_a_password_hash_carries_its_parameters_and_round_trips() -> None:
    stored = passwords.hash_password(PASSWORD)
    params, salt, digest = passwords.parse(stored)
    assert stored.startswith("scrypt$16384$8$1$")
    assert params == passwords.Params(2**14, 8, 1) and len(salt) == 16 and len(digest) == 32
    assert passwords.verify_password(PASSWORD, stored)
    assert not passwords.verify_password(PASSWORD + " ", stored)
    assert passwords.hash_password(PASSWORD) != stored  # a fresh salt each time
    # Older (weaker) parameters still verify with their own, and ask for a rehash.
    old = passwords.hash_password(PASSWORD, passwords.Params(2**12, 8, 1))
    assert passwords.verify_password(PASSWORD, old) and passwords.needs_rehash(old)
    assert not passwords.needs_rehash(stored)


def test_wrong_passwords_lock_the_account_until_it_expires_or_is_unlocked(
    db_settings: Settings,
) -> None:
    meta = metadata_store(db_settings)
    _clerk(db_settings)
    t0 = datetime.now(UTC)
    assert meta.sign_in("Lan.Nguyen", PASSWORD, max_failures=5, lockout=LOCK).principal
    for attempt in range(4):
        answer = meta.sign_in("lan.nguyen", "wrong", max_failures=5, lockout=LOCK, now=t0)
        assert answer.principal is None and answer.locked_until is None, attempt
    assert meta.get_account("lan.nguyen").failed_attempts == 4
    fifth = meta.sign_in("lan.nguyen", "wrong", max_failures=5, lockout=LOCK, now=t0)
    assert fifth.locked_until == t0 + LOCK
    # Locked: the right password is refused too, and does not reset the count.
    later = t0 + timedelta(minutes=14)
    right = meta.sign_in("lan.nguyen", PASSWORD, max_failures=5, lockout=LOCK, now=later)
    assert right.principal is None and right.locked_until == t0 + LOCK
    assert [a.user_name for a in meta.locked_accounts(later)] == ["lan.nguyen"]
    # The lock runs out: the right password opens it, and the count starts afresh.
    after = t0 + timedelta(minutes=16)
    assert meta.locked_accounts(after) == []
    assert meta.sign_in("lan.nguyen", PASSWORD, max_failures=5, lockout=LOCK, now=after).principal
    assert meta.get_account("lan.nguyen").failed_attempts == 0
    # Locked again, an operator unlocks it at once.
    for _ in range(5):
        meta.sign_in("lan.nguyen", "wrong", max_failures=5, lockout=LOCK)
    assert meta.get_account("lan.nguyen").locked(datetime.now(UTC))
    meta.unlock_account("lan.nguyen")
    assert meta.sign_in("lan.nguyen", PASSWORD, max_failures=5, lockout=LOCK).principal


def test_an_unknown_name_costs_the_same_hash_work(
    db_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    meta = metadata_store(db_settings)
    _clerk(db_settings)
    meta.create_account(
        user_name="gone", display_name="Đã nghỉ", password=PASSWORD, role=Role.OPERATOR
    )
    meta.disable_account("gone")
    calls = _count_hashes(monkeypatch)
    for name in ("lan.nguyen", "nobody.here", "gone", "X"):
        before = len(calls)
        answer = meta.sign_in(name, "wrong guess", max_failures=5, lockout=LOCK)
        assert answer.principal is None
        # One scrypt of the same cost for an account, a disabled one, and a name with none.
        assert calls[before:] == [2**14], name


def test_accounts_are_checked_when_made(db_settings: Settings) -> None:
    meta = metadata_store(db_settings)
    with pytest.raises(ValueError, match="at least"):
        meta.create_account(user_name="a.b", display_name="A", password="short", role=Role.OPERATOR)
    with pytest.raises(ValueError, match="counter"):
        meta.create_account(user_name="a.b", display_name="A", password=PASSWORD, role=Role.COUNTER)
    with pytest.raises(ValueError, match="agency"):
        meta.create_account(user_name="a.b", display_name="A", password=PASSWORD, role=Role.AGENCY)
    with pytest.raises(ValueError, match="user name"):
        meta.create_account(
            user_name="Lan Nguyen", display_name="A", password=PASSWORD, role=Role.OPERATOR
        )
    _clerk(db_settings)
    with pytest.raises(ValueError, match="already"):
        _clerk(db_settings)


def test_a_clerk_signs_in_uploads_and_the_batch_names_them(world: World, samples_dir: Path) -> None:
    _clerk(world.settings)
    client = world.client
    wrong = client.post(
        "/login", data={"user_name": "lan.nguyen", "password": "nope"}, headers=SAME_ORIGIN
    )
    assert wrong.status_code == 200 and "mật khẩu không đúng" in wrong.text
    signed_in = client.post(
        "/login", data={"user_name": "lan.nguyen", "password": PASSWORD}, headers=SAME_ORIGIN,
        follow_redirects=False,
    )  # fmt: skip
    assert signed_in.status_code == 303 and signed_in.headers["location"] == "/upload"
    page = client.get("/upload")
    assert page.status_code == 200 and "Nguyễn Thị Lan" in page.text
    data = (samples_dir / "page.jpg").read_bytes()
    uploaded = client.post(
        "/api/batches", files=[("files", ("page.jpg", data, "image/jpeg"))],
        data={"agency": AGENCY_A}, headers=SAME_ORIGIN,
    )  # fmt: skip
    assert uploaded.status_code == 202, uploaded.text
    batch = uploaded.json()
    assert batch["uploaded_by"] == "Nguyễn Thị Lan"
    assert batch["uploaded_by_account"] == "lan.nguyen"
    assert batch["counter_id"] == "HN-01"
    stored = metadata_store(world.settings).get_batch(batch["batch_id"])
    assert stored.uploaded_by_account == "lan.nguyen" and stored.counter_id == "HN-01"
    # The clerk sees their batch as a counter token would; the operator sees who sent it.
    assert client.get(f"/api/batches/{batch['batch_id']}").status_code == 200
    ops = client.get("/api/ops/summary", headers=world.auth("operator")).json()
    assert ops["recent_batches"][0]["uploaded_by_account"] == "lan.nguyen"
    # A machine's upload names its token, and no person.
    machine = world.upload("counter", [samples_dir / "page.jpg"]).json()
    assert machine["uploaded_by"] == "counter user" and machine["uploaded_by_account"] is None
    # Disabled: the open session ends at once.
    metadata_store(world.settings).disable_account("lan.nguyen")
    assert client.get("/upload", follow_redirects=False).status_code == 303


def test_operators_see_and_lift_a_lockout(world: World) -> None:
    _clerk(world.settings)
    client = world.client
    for _ in range(world.settings.login_max_failures):
        client.post(
            "/login", data={"user_name": "lan.nguyen", "password": "wrong"}, headers=SAME_ORIGIN
        )
    locked = client.post(
        "/login", data={"user_name": "lan.nguyen", "password": PASSWORD}, headers=SAME_ORIGIN
    )
    assert "bị khóa tạm thời" in locked.text and "Nguyễn" not in locked.text
    world.sign_in("operator")
    ops = client.get("/ops")
    assert "lan.nguyen" in ops.text and "Tài khoản đang bị khóa" in ops.text
    assert 'action="/ops/accounts/lan.nguyen/unlock"' in ops.text
    forged = client.post(
        "/ops/accounts/lan.nguyen/unlock", headers={"Origin": "https://evil.example"},
        follow_redirects=False,
    )  # fmt: skip
    assert forged.status_code == 403
    done = client.post(
        "/ops/accounts/lan.nguyen/unlock", headers=SAME_ORIGIN, follow_redirects=False
    )
    assert done.status_code == 303
    assert "lan.nguyen" not in client.get("/ops").text
    client.post("/logout", headers=SAME_ORIGIN)
    back = client.post(
        "/login", data={"user_name": "lan.nguyen", "password": PASSWORD}, headers=SAME_ORIGIN,
        follow_redirects=False,
    )  # fmt: skip
    assert back.status_code == 303
    # The API answers operators only; a counter's token cannot unlock anyone.
    refused = client.post("/api/accounts/lan.nguyen/unlock", headers=world.auth("counter"))
    assert refused.status_code == 403


def test_the_token_sign_in_stays_for_machines(world: World) -> None:
    page = world.client.get("/login").text
    assert 'name="user_name"' in page and 'name="password"' in page and 'name="token"' in page
    assert world.sign_in("operator").headers["location"] == "/ops"


def test_cli_manages_accounts_with_the_password_on_stdin(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from app.cli import main
    from flows import runtime

    runtime.reset()
    monkeypatch.setenv("SOHOA_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setattr(sys, "stdin", io.StringIO(PASSWORD + "\n"))
    add = ["user", "add", "lan.nguyen", "--display-name", "Nguyễn Thị Lan"]
    assert main([*add, "--role", "counter", "--counter", "HN-01"]) == 0
    assert main(["user", "list"]) == 0
    listed = capsys.readouterr().out
    assert "lan.nguyen" in listed and "HN-01" in listed and PASSWORD not in listed
    assert main(["token", "list"]) == 0 and "account lan.nguyen" in capsys.readouterr().out
    settings = Settings(data_dir=tmp_path / "data")
    meta = metadata_store(settings)
    for _ in range(settings.login_max_failures):
        meta.sign_in("lan.nguyen", "wrong", max_failures=5, lockout=LOCK)
    assert main(["user", "list"]) == 0 and "locked until" in capsys.readouterr().out
    assert main(["user", "unlock", "lan.nguyen"]) == 0
    assert meta.sign_in("lan.nguyen", PASSWORD, max_failures=5, lockout=LOCK).principal
    assert main(["user", "disable", "lan.nguyen"]) == 0
    assert meta.sign_in("lan.nguyen", PASSWORD, max_failures=5, lockout=LOCK).principal is None
    assert main(["user", "unlock", "nobody"]) != 0
    runtime.reset()
