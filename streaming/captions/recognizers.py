"""Speech recognition engines behind one small interface, chosen by CAPTIONS_ENGINE:
"pocketsphinx" (the default: its wheel ships a US English model, nothing to download),
"off", or "package.module:Class" for another engine (faster-whisper with a model an operator
installed, say) implementing `Recognizer`.

An engine is fed the program's audio as it is published (16 kHz mono signed 16-bit PCM,
decoded by ffmpeg) and answers the utterances it finished, with their times on the fed
audio's own clock (seconds from the first sample it was fed)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.utils.module_loading import import_string
from pocketsphinx import Decoder, Endpointer

SAMPLE_RATE = 16_000
BYTES_PER_SECOND = SAMPLE_RATE * 2
# An utterance is cut after this long even without a pause: viewers read as it goes.
MAX_UTTERANCE_SECONDS = 6.0


@dataclass(frozen=True)
class Utterance:
    text: str
    start: float
    end: float


class Recognizer(ABC):
    """One stream's recognizer: `feed` audio in order, get the utterances it finished;
    `flush` at a gap in the audio (a discontinuity) or the end."""

    @abstractmethod
    def feed(self, pcm: bytes) -> list[Utterance]: ...

    @abstractmethod
    def flush(self) -> list[Utterance]: ...


class PocketsphinxRecognizer(Recognizer):
    """CMU PocketSphinx with the wheel's en-us model: its voice activity endpointer cuts the
    audio into utterances (or MAX_UTTERANCE_SECONDS), its decoder recognises each."""

    def __init__(self) -> None:
        self.decoder = Decoder(samprate=SAMPLE_RATE, loglevel="FATAL")
        self.endpointer = Endpointer(sample_rate=SAMPLE_RATE)
        self.pending = b""
        self.in_utterance = False
        self.started = 0.0
        self.position = 0.0  # seconds fed so far, in whole frames

    def feed(self, pcm: bytes) -> list[Utterance]:
        done: list[Utterance] = []
        self.pending += pcm
        size = self.endpointer.frame_bytes
        while len(self.pending) >= size:
            frame, self.pending = self.pending[:size], self.pending[size:]
            self.position += self.endpointer.frame_length
            speech = self.endpointer.process(frame)
            if speech is None:
                continue
            if not self.in_utterance:
                self.decoder.start_utt()
                self.in_utterance = True
                self.started = self.endpointer.speech_start
            self.decoder.process_raw(speech)
            if not self.endpointer.in_speech:
                done += self._end(self.endpointer.speech_end)
            elif self.position - self.started >= MAX_UTTERANCE_SECONDS:
                done += self._end(self.position)
                self.decoder.start_utt()
                self.in_utterance = True
                self.started = self.position
        return done

    def _end(self, end: float) -> list[Utterance]:
        self.decoder.end_utt()
        self.in_utterance = False
        hyp = self.decoder.hyp()
        text = hyp.hypstr.strip() if hyp is not None else ""
        return [Utterance(text=text, start=self.started, end=end)] if text else []

    def flush(self) -> list[Utterance]:
        done = self._end(self.position) if self.in_utterance else []
        self.pending = b""
        return done


def recognizer_from_settings() -> Recognizer | None:
    """A new recognizer of the configured engine, or None when CAPTIONS_ENGINE is "off".
    Raises ImproperlyConfigured for an engine that cannot be loaded."""
    engine = settings.CAPTIONS_ENGINE
    if engine == "off":
        return None
    if engine == "pocketsphinx":
        return PocketsphinxRecognizer()
    try:
        engine_class = import_string(engine.replace(":", "."))
    except ImportError as exc:
        raise ImproperlyConfigured(f"CAPTIONS_ENGINE={engine!r} cannot be loaded: {exc}") from None
    recognizer = engine_class()
    if not isinstance(recognizer, Recognizer):
        raise ImproperlyConfigured(f"CAPTIONS_ENGINE={engine!r} is not a Recognizer")
    return recognizer
