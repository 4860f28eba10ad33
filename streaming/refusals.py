"""What an encoder is told when its request is refused."""

from __future__ import annotations


class EncoderRefused(Exception):
    """Why an encoder's request is refused: `status` (an HTTP status) and a message for the
    encoder's operator. Raised before anything is written."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
