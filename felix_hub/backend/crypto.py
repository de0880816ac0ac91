"""Encryption of Telegram sessions at rest (Fernet, with key rotation)."""

from __future__ import annotations

import functools

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from flask import current_app


class SessionUnreadable(ValueError):
    """A stored session cannot be decrypted with any configured key."""


class SessionCipher:
    """Encrypts with the first key of FELIX_ENCRYPTION_KEY, decrypts with any of them."""

    def __init__(self, keys: tuple[str, ...]) -> None:
        self._fernet = MultiFernet([Fernet(key) for key in keys])

    def encrypt(self, session: str) -> str:
        return self._fernet.encrypt(session.encode()).decode()

    def decrypt(self, token: str) -> str:
        try:
            return self._fernet.decrypt(token.encode()).decode()
        except InvalidToken:
            raise SessionUnreadable("session encrypted with a key that is no longer configured") from None

    def rotate(self, token: str) -> str:
        """Re-encrypt with the current first key."""
        try:
            return self._fernet.rotate(token.encode()).decode()
        except InvalidToken:
            raise SessionUnreadable("session encrypted with a key that is no longer configured") from None


@functools.cache
def _cipher(keys: tuple[str, ...]) -> SessionCipher:
    return SessionCipher(keys)


def cipher() -> SessionCipher:
    """The cipher for the current app's keys."""
    keys = tuple(current_app.extensions["felix_config"].FELIX_ENCRYPTION_KEY)
    if not keys:
        raise SessionUnreadable("FELIX_ENCRYPTION_KEY is not set")
    return _cipher(keys)


def generate_key() -> str:
    return Fernet.generate_key().decode()
