"""People's passwords: scrypt (memory-hard), its parameters stored with each hash.

A stored hash reads ``scrypt$<n>$<r>$<p>$<salt b64>$<hash b64>``: raising the parameters
later changes new hashes only, and every old one is still checked with its own. An
account's password is re-hashed with the current parameters when it next signs in.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass

# 2**14 x 8 x 128 bytes = 16 MiB of memory per hash, about 50 ms on one core: a guessing
# machine pays that for every guess, a clerk once per sign-in.
N, R, P = 2**14, 8, 1
SALT_BYTES = 16
KEY_BYTES = 32
MIN_LENGTH = 10  # a passphrase is easier to type at a counter than a short jumble
MAX_LENGTH = 256  # bounds the hash work one request can ask for
_SCHEME = "scrypt"


@dataclass(frozen=True)
class Params:
    n: int = N
    r: int = R
    p: int = P

    @property
    def maxmem(self) -> int:
        # hashlib refuses above 32 MiB by default; allow the work the parameters ask for.
        return 128 * self.n * self.r * self.p + 128 * self.r * (self.n + 2) + (1 << 20)


CURRENT = Params()


def _scrypt(password: str, salt: bytes, params: Params) -> bytes:
    """The one place the hash work is done (tests count its calls)."""
    return hashlib.scrypt(
        password.encode("utf-8"),
        salt=salt,
        n=params.n,
        r=params.r,
        p=params.p,
        maxmem=params.maxmem,
        dklen=KEY_BYTES,
    )


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def check_new_password(password: str) -> None:
    """A new password's bounds; ValueError says which."""
    if len(password) < MIN_LENGTH:
        raise ValueError(f"a password needs at least {MIN_LENGTH} characters")
    if len(password) > MAX_LENGTH:
        raise ValueError(f"a password has at most {MAX_LENGTH} characters")


def hash_password(password: str, params: Params = CURRENT) -> str:
    salt = secrets.token_bytes(SALT_BYTES)
    digest = _scrypt(password, salt, params)
    return f"{_SCHEME}${params.n}${params.r}${params.p}${_b64(salt)}${_b64(digest)}"


def parse(stored: str) -> tuple[Params, bytes, bytes]:
    """(parameters, salt, hash) of a stored hash; ValueError if it is not one of ours."""
    scheme, n, r, p, salt, digest = stored.split("$")
    if scheme != _SCHEME:
        raise ValueError(f"unknown password scheme {scheme!r}")
    return Params(int(n), int(r), int(p)), base64.b64decode(salt), base64.b64decode(digest)


def verify_password(password: str, stored: str) -> bool:
    """Whether ``password`` is the one ``stored`` was made from (constant-time compare)."""
    params, salt, expected = parse(stored)
    # A longer password is never right (none is set that long) but costs the same work.
    same = hmac.compare_digest(_scrypt(password[:MAX_LENGTH], salt, params), expected)
    return same and len(password) <= MAX_LENGTH


# What an unknown (or disabled) user's password is checked against: the same work as for
# a real account, so the answer's timing does not tell whether the name exists.
_NOBODY = f"{_SCHEME}${N}${R}${P}${_b64(bytes(SALT_BYTES))}${_b64(bytes(KEY_BYTES))}"


def spend_as_if_checked(password: str) -> None:
    """The hash work of one check, for a name that has no account."""
    verify_password(password, _NOBODY)


def needs_rehash(stored: str) -> bool:
    params, _salt, _digest = parse(stored)
    return params != CURRENT
