"""Signed playback URLs: nginx secure_link's md5 form, checked by Django."""

from __future__ import annotations

import base64
import hashlib

from streaming import signing

NOW = 1_800_000_000


def test_the_token_is_nginx_secure_link_md5_of_expiry_prefix_and_secret(settings):
    settings.PLAYBACK_SIGNING_SECRET = "s3cret"
    expected = base64.urlsafe_b64encode(
        hashlib.md5(b"1800000600/live/abc123/ s3cret").digest()  # noqa: S324
    ).rstrip(b"=")
    assert signing.playback_token(public_id="abc123", expires=1_800_000_600) == expected.decode()


def test_public_streams_get_plain_urls():
    assert signing.playback_path(public_id="abc", path="master.m3u8", signed=False) == (
        "/live/abc/master.m3u8"
    )


def test_viewers_within_the_same_step_get_the_same_signed_url(settings):
    settings.PLAYBACK_URL_TTL_SECONDS = 3600
    start = NOW + 10  # just after a step boundary
    first = signing.playback_path(public_id="abc", path="master.m3u8", signed=True, now=start)
    later = signing.playback_path(public_id="abc", path="master.m3u8", signed=True, now=start + 99)
    assert first == later
    expires = int(first.split("/")[3])
    assert expires % signing.EXPIRY_STEP_SECONDS == 0
    assert start + 3600 <= expires < start + 3600 + signing.EXPIRY_STEP_SECONDS


def test_a_good_token_passes_until_its_expiry():
    token = signing.playback_token(public_id="abc", expires=NOW)
    assert signing.check_playback_token(public_id="abc", token=token, expires=NOW, now=NOW) is None
    assert (
        signing.check_playback_token(public_id="abc", token=token, expires=NOW, now=NOW + 1)
        == "expired"
    )


def test_a_token_for_another_stream_or_expiry_is_a_bad_signature():
    token = signing.playback_token(public_id="abc", expires=NOW + 60)
    assert (
        signing.check_playback_token(public_id="abd", token=token, expires=NOW + 60, now=NOW)
        == "bad signature"
    )
    assert (
        signing.check_playback_token(public_id="abc", token=token, expires=NOW + 6000, now=NOW)
        == "bad signature"
    )
