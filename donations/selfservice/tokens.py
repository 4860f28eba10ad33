"""The tokens of emailed self-service links. A token is derived from a random salt stored on
the link's row and the SECRET_KEY (HMAC-SHA256): the row holds the salt and the token's
SHA-256, never the token, so the database alone opens no link, while the outbox can still
write the token into the email whenever it sends it."""

from __future__ import annotations

import base64
import hashlib
import re
import secrets

from django.utils.crypto import salted_hmac

_KEY_SALT = "donations.selfservice.link-token"
# 32 bytes of HMAC in unpadded base64url.
TOKEN = re.compile(r"^[A-Za-z0-9_-]{43}$")


def new_salt() -> str:
    return secrets.token_hex(16)


def token_for(salt: str) -> str:
    digest = salted_hmac(_KEY_SALT, salt, algorithm="sha256").digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("ascii")).hexdigest()


def well_formed(token: str) -> bool:
    return bool(TOKEN.fullmatch(token))
