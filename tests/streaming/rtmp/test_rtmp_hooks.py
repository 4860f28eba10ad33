"""nginx-rtmp's on_publish / on_publish_done hooks, as nginx-rtmp POSTs them."""

from __future__ import annotations

import pytest
from django.urls import reverse

from streaming import selectors, services, signing, transcoder
from streaming.models import Stream, Transcoder

pytestmark = pytest.mark.django_db


def _form(public_id: str, key: str, client_id: str = "7", call: str = "publish") -> str:
    # nginx-rtmp's own fields first, then the publish URL's arguments.
    return (
        f"app=live&flashver=FMLE/3.0&swfurl=&tcurl=rtmp://h/live&pageurl=&addr=127.0.0.1"
        f"&clientid={client_id}&call={call}&name={public_id}&type=live&key={key}"
    )


def _post(client, hook: str, body: str, token: str | None = None, server: str = "rtmp"):
    url = reverse(f"streaming:rtmp_{hook}", args=[token or signing.rtmp_hook_token()])
    url += f"?server={server}"
    return client.post(url, body, content_type="application/x-www-form-urlencoded")


def test_on_publish_with_the_stream_key_starts_the_transcoder(client, stream_and_key):
    stream, key = stream_and_key
    response = _post(client, "on_publish", _form(stream.public_id, key))
    assert response.status_code == 200
    row = Transcoder.objects.get(stream=stream)
    assert (row.publishing, row.client_id) == (True, "7")


def test_on_publish_with_a_wrong_key_is_403_and_changes_nothing(client, stream_and_key):
    stream, _ = stream_and_key
    response = _post(client, "on_publish", _form(stream.public_id, "sk_wrong"))
    assert (response.status_code, response.content) == (403, b"Wrong or rotated stream key.\n")
    assert Transcoder.objects.count() == 0


def test_on_publish_with_a_rotated_key_is_403(client, stream_and_key):
    stream, old_key = stream_and_key
    services.rotate_stream_key(stream_id=stream.pk)
    response = _post(client, "on_publish", _form(stream.public_id, old_key))
    assert response.status_code == 403
    assert Transcoder.objects.count() == 0


def test_on_publish_refuses_the_transcoder_token_as_an_encoder_key(client, stream_and_key):
    stream, _ = stream_and_key
    token = signing.transcoder_token(public_id=stream.public_id, key_hash=stream.key_hash)
    response = _post(client, "on_publish", _form(stream.public_id, token))
    assert response.status_code == 403
    assert Transcoder.objects.count() == 0


def test_on_publish_refuses_a_second_name_smuggled_in_the_url_arguments(client, stream_and_key):
    stream, key = stream_and_key
    body = _form(stream.public_id, key) + "&name=other"
    response = _post(client, "on_publish", body)
    assert (response.status_code, response.content) == (400, b"name given twice\n")
    assert Transcoder.objects.count() == 0


def test_on_publish_refuses_an_ended_stream(client, stream_and_key):
    stream, key = stream_and_key
    services.end_stream(stream_id=stream.pk)
    response = _post(client, "on_publish", _form(stream.public_id, key))
    assert response.status_code == 409
    assert response.content.startswith(b"The show has ended, so this stream takes no more video.")
    assert Transcoder.objects.count() == 0


def test_the_hooks_answer_404_without_the_hook_token(client, stream_and_key):
    stream, key = stream_and_key
    response = _post(client, "on_publish", _form(stream.public_id, key), token="0" * 32)
    assert response.status_code == 404
    assert Transcoder.objects.count() == 0


def test_on_publish_done_stops_the_transcoder_of_that_connection(client, stream_and_key):
    stream, key = stream_and_key
    _post(client, "on_publish", _form(stream.public_id, key, client_id="7"))
    response = _post(client, "on_publish_done", _form(stream.public_id, key, "7", "publish_done"))
    assert response.status_code == 200
    assert Transcoder.objects.get(stream=stream).publishing is False
    assert Stream.objects.get(pk=stream.pk).state == "idle"


def test_a_late_publish_done_of_an_older_connection_changes_nothing(client, stream_and_key):
    stream, key = stream_and_key
    _post(client, "on_publish", _form(stream.public_id, key, client_id="9"))
    _post(client, "on_publish_done", _form(stream.public_id, key, "7", "publish_done"))
    row = Transcoder.objects.get(stream=stream)
    assert (row.publishing, row.client_id) == (True, "9")


def test_the_ingest_accepts_the_transcoder_token_until_the_key_is_rotated(stream_and_key):
    stream, _ = stream_and_key
    token = signing.transcoder_token(public_id=stream.public_id, key_hash=stream.key_hash)
    found = selectors.access_stream_for_ingest(
        public_id=stream.public_id, authorization=f"Bearer {token}"
    )
    assert found.pk == stream.pk
    services.rotate_stream_key(stream_id=stream.pk)
    with pytest.raises(selectors.IngestRefused) as refused:
        selectors.access_stream_for_ingest(
            public_id=stream.public_id, authorization=f"Bearer {token}"
        )
    assert refused.value.status == 403


def test_on_update_lets_a_publisher_with_the_current_key_go_on(client, stream_and_key):
    stream, key = stream_and_key
    response = _post(client, "on_update", _form(stream.public_id, key, call="update_publish"))
    assert response.status_code == 200


def test_on_update_drops_a_publisher_whose_key_was_rotated(client, stream_and_key):
    stream, key = stream_and_key
    _post(client, "on_publish", _form(stream.public_id, key))
    services.rotate_stream_key(stream_id=stream.pk)
    response = _post(client, "on_update", _form(stream.public_id, key, call="update_publish"))
    assert (response.status_code, response.content) == (403, b"Wrong or rotated stream key.\n")


def test_on_publish_records_which_rtmp_server_took_the_stream(client, stream_and_key):
    stream, key = stream_and_key
    _post(client, "on_publish", _form(stream.public_id, key), server="rtmp-2")
    assert Transcoder.objects.get(stream=stream).rtmp_server == "rtmp-2"


def test_on_publish_without_a_server_name_is_400_and_changes_nothing(client, stream_and_key):
    stream, key = stream_and_key
    response = _post(client, "on_publish", _form(stream.public_id, key), server="a%20b")
    assert (response.status_code, response.content) == (
        400, b"no or bad server name in the hook URL\n"
    )  # fmt: skip
    assert Transcoder.objects.count() == 0


def test_a_supervisor_runs_only_the_streams_published_to_its_own_rtmp_server(
    client, stream_and_key, settings
):
    stream, key = stream_and_key
    _post(client, "on_publish", _form(stream.public_id, key), server="rtmp-2")
    settings.RTMP_SERVER_NAME = "rtmp-1"
    assert transcoder.wanted_streams() == {}
    settings.RTMP_SERVER_NAME = "rtmp-2"
    assert list(transcoder.wanted_streams()) == [stream.pk]


def test_on_update_lets_the_transcoder_play_without_a_key(client, stream_and_key):
    stream, _ = stream_and_key
    body = (
        "app=live&flashver=LNX%209,0,124,2&swfurl=&tcurl=rtmp://127.0.0.1/live&pageurl="
        f"&addr=127.0.0.1&clientid=28&call=update_play&time=10&timestamp=9000&name={stream.public_id}"
    )
    response = _post(client, "on_update", body)
    assert response.status_code == 200
