"""Password hashing with Argon2id (argon2-cffi's RFC 9106 low-memory profile) and a minimal policy."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from hub.security._errors import UserError

MIN_LENGTH = 12
MAX_LENGTH = 1024
_HASHER = PasswordHasher()
_DUMMY_HASH = _HASHER.hash("vigie-timing-equaliser-not-a-password")


def check_policy(password: str) -> None:
    """Raise UserError if the password is too short or too long (length only: NIST SP 800-63B)."""
    if len(password) < MIN_LENGTH:
        raise UserError(f"password must have at least {MIN_LENGTH} characters")
    if len(password) > MAX_LENGTH:
        raise UserError(f"password must have at most {MAX_LENGTH} characters")


def hash_password(password: str) -> str:
    check_policy(password)
    return _HASHER.hash(password)


def verify_password(stored_hash: str | None, password: str) -> bool:
    """Constant work whether or not the user exists (`stored_hash` None checks against a dummy hash)."""
    if len(password) > MAX_LENGTH:
        return False
    try:
        return _HASHER.verify(stored_hash or _DUMMY_HASH, password) and stored_hash is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(stored_hash: str) -> bool:
    try:
        return _HASHER.check_needs_rehash(stored_hash)
    except InvalidHashError:
        return True
