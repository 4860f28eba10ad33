"""Automatic captions end to end (about 25 s): ffmpeg pushes a stream whose audio is
synthetic speech (Debian's espeak-ng) through the real ingest; the session's stream worker
recognises it (pocketsphinx) and its cues, whose words overlap the spoken text, are in the
caption segments the origin serves, after the speech they caption."""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest

from events.models import EventStatus
from streaming import ffmpeg, services, teststream
from streaming.captions.recognizers import PocketsphinxRecognizer
from streaming.models import CaptionCue, CaptionMode, CaptionSource, Stream
from tests.browser import under_ci
from tests.factories import EventFactory
from tests.support import wait_for
from tests.support.streaming import TARGET_DURATION

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.serial,  # recognition keeps up with the stream in real time: run alone (Makefile)
]

SPOKEN = (
    "Thank you all for joining us tonight. Every gift helps our campaign reach more voters "
    "this fall."
)


def _words(text: str) -> set[str]:
    return set(re.findall(r"[a-z]+", text.lower()))


@pytest.fixture(scope="module")
def speech(tmp_path_factory) -> str:
    """SPOKEN as a WAV file spoken by espeak-ng, then a second of silence (a pause between
    two sayings when it loops)."""
    espeak = shutil.which("espeak-ng")
    if espeak is None:
        message = "Debian's espeak-ng is not installed (apt-get install espeak-ng)"
        if under_ci():
            pytest.fail(message + ": .ci/run installs it")
        pytest.skip(message)
    folder = tmp_path_factory.mktemp("speech")
    said = folder / "said.wav"
    subprocess.run([espeak, "-v", "en-us", "-s", "140", "-w", str(said), SPOKEN], check=True)
    path = folder / "speech.wav"
    subprocess.run(
        ffmpeg.base_command("-i", str(said), "-af", "apad=pad_dur=1", "-ar", "16000", str(path)),
        check=True, timeout=30,
    )  # fmt: skip
    return str(path)


def test_the_recognizer_hears_the_words_of_synthetic_speech(speech):
    pcm = subprocess.run(
        ffmpeg.base_command("-i", speech, "-ac", "1", "-ar", "16000", "-f", "s16le", "pipe:1"),
        capture_output=True, check=True, timeout=30,
    ).stdout  # fmt: skip
    recognizer = PocketsphinxRecognizer()
    said = recognizer.feed(pcm) + recognizer.flush()
    heard = _words(" ".join(u.text for u in said))
    assert len(heard & _words(SPOKEN)) >= 4, heard
    assert all(u.start < u.end for u in said)


def test_speech_in_a_stream_becomes_cues_in_its_caption_segments(server, speech):
    event = EventFactory(status=EventStatus.SCHEDULED)
    stream, key = services.create_stream(event_id=event.pk)
    Stream.objects.filter(pk=stream.pk).update(captions=CaptionMode.AUTO)
    push = ffmpeg.start(
        teststream.push_command(
            ingest_url=server.ingest_url(stream.public_id), key=key,
            target_duration=TARGET_DURATION, seconds=30, audio=speech,
        ),
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:

        def heard() -> set[str]:
            texts = CaptionCue.objects.filter(stream=stream, source=CaptionSource.AUTO)
            return _words(" ".join(texts.values_list("text", flat=True))) & _words(SPOKEN)

        overlap = wait_for(lambda: len(heard()) >= 4 and heard(), 45, 0.25, what="captions")
    finally:
        push.kill()
        push.wait()
        services.end_stream(stream_id=stream.pk)
    assert len(overlap) >= 4, overlap
    recognised = list(CaptionCue.objects.filter(stream=stream, source=CaptionSource.AUTO))
    for cue in recognised:
        assert cue.spoken_end is not None
        assert cue.start >= cue.spoken_end  # shown after it was said, never before
    # The origin serves them in the caption segments.
    folder = server.media_root / "live" / stream.public_id / "captions"
    served = " ".join(path.read_text() for path in folder.glob("*.vtt"))
    assert recognised[0].text.splitlines()[0] in served
