"""A campaign's brand: its logo, its two colours and the readability rule between them.

The logo is an upload from campaign staff shown to every visitor, so it is treated as hostile
until Pillow has read it: PNG, JPEG or WebP only (never SVG, which can carry script), at most
`MAX_LOGO_BYTES` and `MAX_LOGO_PIXELS` on a side, checked with `verify()`. It is stored under a
random name whose extension comes from the format Pillow found, and served by
`events.views.campaign_logo`
with that format's Content-Type and `nosniff`, so a browser never reads it as anything else. A
logo replaced or cleared, or its campaign deleted, is deleted from storage once that commits
(`discard_logo_on_commit`).

Colours are `#rrggbb`. WCAG 2's contrast ratio decides whether a pair is readable: the text
colour on the brand colour at least 4.5:1 (normal text, AA), and the brand colour against the
white page at least 3:1 (buttons and bars, WCAG 1.4.11).
"""

from __future__ import annotations

import os
import re
import secrets
from collections.abc import Callable
from typing import IO, Any

from django.core.exceptions import ValidationError
from django.core.files.storage import Storage
from django.core.validators import RegexValidator
from django.db import transaction
from PIL import Image, UnidentifiedImageError

MAX_LOGO_BYTES = 1024 * 1024
MAX_LOGO_PIXELS = 2000
LOGO_DIR = "logos"
# Pillow's format name -> (file extension, Content-Type).
LOGO_FORMATS = {
    "PNG": ("png", "image/png"),
    "JPEG": ("jpg", "image/jpeg"),
    "WEBP": ("webp", "image/webp"),
}
CONTENT_TYPES = dict(LOGO_FORMATS.values())

# The page's own colours when a campaign sets none (static/css/site.css and the donate panel).
DEFAULT_BRAND_COLOR = "#0a3a99"
DEFAULT_BRAND_TEXT_COLOR = "#ffffff"
PAGE_BACKGROUND = "#ffffff"
PAGE_INK = "#1a1d24"  # --ink in static/css/site.css
MIN_TEXT_CONTRAST = 4.5
MIN_PAGE_CONTRAST = 3.0

HEX_COLOR = re.compile(r"^#[0-9a-fA-F]{6}$")
check_hex_color = RegexValidator(HEX_COLOR, "Enter a colour as #rrggbb, for example #0a3a99.")
# The names `logo_upload_to` gives: the logo view serves nothing else.
LOGO_NAME = re.compile(r"^[0-9a-f]{32}\.(?:png|jpg|webp)$")


def _logo_format(file: IO[bytes]) -> str:
    """The Pillow format of an uploaded logo; ValidationError if it is not a logo we take.

    Reads the header for the size in pixels before anything is decoded, then `verify()`s the
    whole file. Leaves the file at its start."""
    size = getattr(file, "size", None)
    if size is None:
        file.seek(0, os.SEEK_END)
        size = file.tell()
    if size > MAX_LOGO_BYTES:
        raise ValidationError(
            f"The logo is {size:,} bytes; the most a logo may be is {MAX_LOGO_BYTES:,} bytes.",
            code="logo_too_large",
        )
    file.seek(0)
    try:
        with Image.open(file) as image:
            kind = image.format or ""
            width, height = image.size
            if kind not in LOGO_FORMATS:
                raise ValidationError(
                    "The logo must be a PNG, JPEG or WebP image.", code="logo_format"
                )
            if width > MAX_LOGO_PIXELS or height > MAX_LOGO_PIXELS:
                raise ValidationError(
                    f"The logo is {width} by {height} pixels; the most a logo may be is "
                    f"{MAX_LOGO_PIXELS} by {MAX_LOGO_PIXELS}.",
                    code="logo_too_many_pixels",
                )
            image.verify()
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError):
        raise ValidationError(
            "The logo must be a PNG, JPEG or WebP image; this file is not one we can read.",
            code="logo_not_an_image",
        ) from None
    finally:
        file.seek(0)
    return kind


def check_logo(value: Any) -> None:
    """Model-field validator: the logo is a PNG, JPEG or WebP within the bounds."""
    if not value:
        return
    if getattr(value, "_committed", False):
        return  # already stored: it was checked on the way in
    _logo_format(value.file)


def logo_upload_to(instance: Any, filename: str) -> str:
    """A random name with the extension of the format Pillow found; the uploader's name is not
    used at all."""
    kind = _logo_format(instance.logo.file)
    return f"{LOGO_DIR}/{secrets.token_hex(16)}.{LOGO_FORMATS[kind][0]}"


def discard_logo_on_commit(*, storage: Storage, name: str, in_use: Callable[[str], bool]) -> None:
    """Deletes the stored logo `name` once the current transaction commits (at once outside
    one; never if it rolls back), unless `in_use(name)` then says a campaign still names it.
    A deletion that fails is logged by Django's on-commit runner, not raised into the request
    whose change already committed; the file is then left behind, as before."""
    if not name:
        return

    def discard() -> None:
        if not in_use(name):
            storage.delete(name)

    transaction.on_commit(discard, robust=True)


def relative_luminance(color: str) -> float:
    """WCAG 2's relative luminance of `#rrggbb`."""
    channels = []
    for i in (1, 3, 5):
        c = int(color[i : i + 2], 16) / 255
        channels.append(c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4)
    r, g, b = channels
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast_ratio(a: str, b: str) -> float:
    """WCAG 2's contrast ratio between two `#rrggbb` colours, from 1 to 21."""
    la, lb = relative_luminance(a), relative_luminance(b)
    hi, lo = max(la, lb), min(la, lb)
    return (hi + 0.05) / (lo + 0.05)


def _floor2(ratio: float) -> str:
    # Rounded down, so a pair shown as "4.50:1" never fails a 4.5 rule.
    return f"{int(ratio * 100) / 100:.2f}:1"


def check_brand_colors(brand_color: str, text_color: str) -> dict[str, str]:
    """Errors by field name for an unreadable pair (empty: the pair is readable). An empty
    colour stands for the page's default; malformed colours are the field validator's job."""
    brand = brand_color or DEFAULT_BRAND_COLOR
    text = text_color or DEFAULT_BRAND_TEXT_COLOR
    if not (HEX_COLOR.match(brand) and HEX_COLOR.match(text)):
        return {}
    errors = {}
    on_page = contrast_ratio(brand, PAGE_BACKGROUND)
    if on_page < MIN_PAGE_CONTRAST:
        errors["brand_color"] = (
            f"{brand} against the white page has a contrast ratio of {_floor2(on_page)}; buttons "
            f"and bars need at least {MIN_PAGE_CONTRAST:g}:1. Choose a darker colour."
        )
    on_brand = contrast_ratio(text, brand)
    if on_brand < MIN_TEXT_CONTRAST:
        errors["brand_text_color"] = (
            f"{text} on {brand} has a contrast ratio of {_floor2(on_brand)}; text needs at least "
            f"{MIN_TEXT_CONTRAST:g}:1 to be readable."
        )
    return errors


def brand_style(brand_color: str, text_color: str) -> str:
    """The CSS custom properties for the event page's element (empty: the page's defaults).
    Re-checked here so a colour that reached the row some other way never reaches the CSS."""
    parts = []
    if HEX_COLOR.match(brand_color or ""):
        parts.append(f"--brand: {brand_color.lower()};")
        if contrast_ratio(brand_color, PAGE_BACKGROUND) < MIN_TEXT_CONTRAST:
            # Fine for a button or bar (3:1), too faint for text on the page: text is ink.
            parts.append(f"--brand-on-page: {PAGE_INK};")
    if HEX_COLOR.match(text_color or ""):
        parts.append(f"--brand-text: {text_color.lower()};")
    return " ".join(parts)
