"""The playlist writer through its services, without an encoder: segments are placed in the
ingest area as an encoder's PUT would leave them, then the encoder's playlist is applied."""

from __future__ import annotations

from datetime import timedelta
from itertools import pairwise

import pytest
from django.utils import timezone

from events.models import EventStatus
from streaming import playlists, services, show
from streaming.models import Rendition, Segment
from streaming.storage import get_storage
from tests.streaming import hls_checks
from tests.support.streaming import (
    TARGET_DURATION,
    WINDOW_SECONDS,
    deliver,
    encoder_playlist,
    served,
)

pytestmark = pytest.mark.django_db


def test_a_stream_keeps_the_target_duration_and_window_it_was_created_with(stream):
    assert (stream.target_duration, stream.window_seconds) == (TARGET_DURATION, WINDOW_SECONDS)


def test_segments_are_published_under_our_own_sequence_names(stream):
    deliver(stream, 0, 2)
    media = hls_checks.parse(served(stream))
    assert [s.uri for s in media.segments] == ["0.ts", "1.ts"]
    assert get_storage().size(f"live/{stream.public_id}/v/1.ts") == 188 * 2
    assert get_storage().size(f"ingest/{stream.public_id}/seg1.ts") is None


def test_a_playlist_repeating_published_segments_publishes_nothing_twice(stream):
    deliver(stream, 0, 2)
    assert deliver(stream, 0, 3).published == 1
    assert Segment.objects.filter(rendition__stream=stream).count() == 3


def test_the_window_slides_once_it_holds_the_window_duration(stream):
    deliver(stream, 0, 6)
    media = hls_checks.parse(served(stream))
    assert (media.media_sequence, len(media.segments)) == (3, 3)
    assert Segment.objects.filter(rendition__stream=stream, removed_at__isnull=False).count() == 3


def test_a_dvr_stream_keeps_the_whole_broadcast_in_its_window(scheduled_event, settings):
    settings.HLS_DVR_WINDOW_SECONDS = 3600
    stream, _ = services.create_stream(event_id=scheduled_event.pk, dvr=True)
    deliver(stream, 0, 8)
    media = hls_checks.parse(served(stream))
    assert (stream.window_seconds, media.media_sequence, len(media.segments)) == (3600, 0, 8)


def test_program_date_times_follow_on_by_the_segment_durations(stream):
    deliver(stream, 0, 3)
    rows = list(Segment.objects.filter(rendition__stream=stream))
    gaps = [(b.program_date_time - a.program_date_time).total_seconds() for a, b in pairwise(rows)]
    assert gaps == [1.0, 1.0]


def test_an_encoder_restart_starts_a_discontinuity(stream):
    deliver(stream, 0, 4)
    deliver(stream, 0, 1, prefix="new")  # a new encoder session numbers from 0 again
    media = hls_checks.parse(served(stream))
    assert [(s.uri, s.discontinuity) for s in media.segments] == [
        ("2.ts", False), ("3.ts", False), ("4.ts", True),
    ]  # fmt: skip


def test_the_discontinuity_sequence_counts_discontinuities_that_left_the_window(stream):
    deliver(stream, 0, 2)
    deliver(stream, 0, 1, prefix="new")
    deliver(stream, 1, 4, prefix="new")
    media = hls_checks.parse(served(stream))
    assert (media.media_sequence, media.discontinuity_sequence) == (4, 1)
    assert Rendition.objects.get(stream=stream).discontinuity_sequence == 1


def test_a_segment_longer_than_the_target_duration_is_refused_and_shown_to_staff(stream):
    deliver(stream, 0, 1)
    deliver(stream, 1, 1, duration=1.6)
    stream.refresh_from_db()
    assert Segment.objects.filter(rendition__stream=stream).count() == 1
    assert stream.last_error.startswith(
        "Refused a 1.60 s segment on v: the target duration is 1 s."
    )
    assert get_storage().size(f"ingest/{stream.public_id}/seg1.ts") is None


def test_a_segment_that_never_arrived_is_skipped_with_a_discontinuity(stream):
    storage = get_storage()
    for seq in (0, 2):
        storage.put(f"ingest/{stream.public_id}/seg{seq}.ts", b"\x47" * 188)
    services.receive_playlist(stream_id=stream.pk, name="v.m3u8", text=encoder_playlist(0, 3))
    media = hls_checks.parse(served(stream))
    assert [(s.uri, s.discontinuity) for s in media.segments] == [("0.ts", False), ("1.ts", True)]


def test_the_encoders_endlist_is_a_pause_and_only_the_shows_end_writes_endlist(stream):
    deliver(stream, 0, 2)
    show.go_live(event_id=stream.event_id)
    assert "#EXT-X-ENDLIST" not in served(stream)
    assert deliver(stream, 0, 3, end=True).ended is False
    stream.refresh_from_db()
    assert (stream.state, stream.event.status) == ("reconnecting", EventStatus.LIVE)
    assert served(stream).endswith("2.ts\n")
    show.end_show(event_id=stream.event_id)
    stream.refresh_from_db()
    assert (stream.state, stream.event.status) == ("ended", EventStatus.ENDED)
    assert served(stream).endswith("2.ts\n#EXT-X-ENDLIST\n")


def test_the_replay_is_a_vod_playlist_of_the_whole_recording(stream):
    deliver(stream, 0, 6)
    services.end_stream(stream_id=stream.pk)
    replay = served(stream, "v/replay.m3u8")
    media = hls_checks.parse(replay)
    assert "#EXT-X-PLAYLIST-TYPE:VOD" in replay
    assert (media.media_sequence, len(media.segments), media.ended) == (0, 6, True)
    assert served(stream, "replay.m3u8").splitlines()[-1] == "v/replay.m3u8"


def test_a_master_from_the_encoder_names_our_renditions_with_its_attributes(stream):
    master = ('#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=950400,RESOLUTION=640x360,'
              'CODECS="avc1.42c01e,mp4a.40.2",EVIL="x"\nv.m3u8\n')  # fmt: skip
    services.receive_playlist(stream_id=stream.pk, name="master.m3u8", text=master)
    deliver(stream, 0, 1)
    assert served(stream, "master.m3u8") == (
        "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-STREAM-INF:BANDWIDTH=950400,RESOLUTION=640x360,"
        'CODECS="avc1.42c01e,mp4a.40.2"\nv/index.m3u8\n'
    )


def test_without_a_master_from_the_encoder_we_write_one_with_the_measured_bandwidth(stream):
    deliver(stream, 0, 2)
    assert served(stream, "master.m3u8") == (
        "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-STREAM-INF:BANDWIDTH=3008\nv/index.m3u8\n"
    )


def test_a_rendition_the_encoder_no_longer_sends_leaves_the_master(stream):
    deliver(stream, 0, 2)  # rendition "v", then the encoder comes back with another ladder
    Rendition.objects.filter(stream=stream, name="v").update(
        next_pdt=timezone.now() - timedelta(seconds=WINDOW_SECONDS + 60)
    )
    storage = get_storage()
    storage.put(f"ingest/{stream.public_id}/w0.ts", b"\x47" * 188)
    services.receive_playlist(
        stream_id=stream.pk, name="w.m3u8", text=encoder_playlist(0, 1, prefix="w")
    )
    assert served(stream, "master.m3u8") == (
        "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-STREAM-INF:BANDWIDTH=1504\nw/index.m3u8\n"
    )


@pytest.mark.parametrize(
    "text",
    ["not a playlist", "#EXTM3U\nseg0.ts\n", "#EXTM3U\n#EXTINF:1.0,\n../x.ts\n",
     "#EXTM3U\n#EXTINF:abc,\nseg0.ts\n"],
)  # fmt: skip
def test_a_malformed_encoder_playlist_is_refused_and_changes_nothing(stream, text):
    get_storage().put(f"ingest/{stream.public_id}/seg0.ts", b"\x47" * 188)
    with pytest.raises(playlists.PlaylistError):
        services.receive_playlist(stream_id=stream.pk, name="v.m3u8", text=text)
    assert Segment.objects.filter(rendition__stream=stream).count() == 0
    assert get_storage().size(f"live/{stream.public_id}/v/index.m3u8") is None


def test_publishing_a_segment_in_the_steady_state_costs_seven_queries(
    stream, django_assert_num_queries
):
    deliver(stream, 0, 5)
    # Lock the stream, read the rendition, insert the segment, read the window, mark what
    # left it, save the rendition and the stream (+ the test's savepoint and release).
    with django_assert_num_queries(9):
        deliver(stream, 0, 6)


def test_fmp4_segments_publish_their_init_section_under_a_new_name_with_ext_x_map(stream):
    storage = get_storage()
    storage.put(f"ingest/{stream.public_id}/init.mp4", b"ftyp")
    for seq in (0, 1):
        storage.put(f"ingest/{stream.public_id}/seg{seq}.m4s", b"moof")
    text = ('#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-TARGETDURATION:1\n#EXT-X-MAP:URI="init.mp4"\n'
            "#EXTINF:1.0,\nseg0.m4s\n#EXTINF:1.0,\nseg1.m4s\n")  # fmt: skip
    services.receive_playlist(stream_id=stream.pk, name="v.m3u8", text=text)
    playlist = served(stream)
    assert '#EXT-X-MAP:URI="init0.mp4"' in playlist
    assert playlist.count("#EXT-X-MAP") == 1
    assert "#EXT-X-VERSION:6" in playlist
    assert [s.uri for s in hls_checks.parse(playlist).segments] == ["0.m4s", "1.m4s"]
    assert storage.size(f"live/{stream.public_id}/v/init0.mp4") == 4
