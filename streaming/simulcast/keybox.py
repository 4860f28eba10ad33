"""Destination stream keys at rest: sealed with Fernet (AES-128-CBC and HMAC-SHA256, from the
`cryptography` package) under a key derived from SIMULCAST_KEY_SECRET (by default from
SECRET_KEY). A database dump alone opens nothing; the transcoder unseals a key only to hand
it to ffmpeg. A key sealed under another secret cannot be read: staff type it again."""

from __future__ import annotations

import base64
import hashlib

from cryptography.fernet import Fernet, InvalidToken
from django.conf import settings


class KeyUnreadable(Exception):
    """The sealed key was made under another secret (SIMULCAST_KEY_SECRET or SECRET_KEY
    changed) or is damaged."""


def _fernet() -> Fernet:
    digest = hashlib.sha256(f"pledgecast-simulcast|{settings.SIMULCAST_KEY_SECRET}".encode())
    return Fernet(base64.urlsafe_b64encode(digest.digest()))


def seal(key: str) -> str:
    return _fernet().encrypt(key.encode()).decode()


def unseal(sealed: str) -> str:
    """The key. Raises KeyUnreadable."""
    try:
        return _fernet().decrypt(sealed.encode()).decode()
    except (InvalidToken, ValueError):
        raise KeyUnreadable(
            "The stream key cannot be read (the server's secret changed): replace it."
        ) from None
