"""Live captions: a WebVTT subtitle rendition beside the video, in the live playlists and the
replay, fed by a human captioner (CART) or speech recognition of the program's audio.

- `webvtt.py` (pure): WebVTT segments with X-TIMESTAMP-MAP, the first PTS of an MPEG-TS
  segment;
- `cues.py`: the cues (CaptionCue): CART posts checked and placed on the program's clock,
  the caption key;
- `rendition.py`: the caption segments and playlists, written by the playlist writer
  (streaming/publishing.py) as the anchor rendition's segments are published;
- `views.py`: the CART endpoint, `POST /streaming/captions/<public_id>`;
- `recognizers.py` and `captioner.py`: speech recognition (pocketsphinx by default,
  CAPTIONS_ENGINE), run by the stream worker over the published segments' audio.
"""
