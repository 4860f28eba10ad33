"""The CART endpoint: `POST /streaming/captions/<public_id>` with `Authorization: Bearer
<caption key>` and the caption lines as the body (text/plain, one line per line). Answers
201 with `{"cues": n, "start": …}`, or `{"error": …}` with 400 (malformed, too large), 403
(wrong key) or 409 (captions off, no video arriving); a refused post stores nothing."""

from __future__ import annotations

from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from streaming.captions import cues


@csrf_exempt
@require_POST
def cart(request: HttpRequest, public_id: str) -> JsonResponse:
    try:
        declared = int(request.headers.get("Content-Length") or 0)
    except ValueError:
        declared = 0
    try:
        if declared > cues.MAX_BODY_BYTES:  # before reading it
            raise cues.CaptionRefused(400, f"Too large: at most {cues.MAX_BODY_BYTES} bytes.")
        stream = cues.access_stream_for_captions(
            public_id=public_id, authorization=request.headers.get("Authorization", "")
        )
        lines = cues.parse_lines(request.body)
        placed = cues.add_cues(stream_id=stream.pk, lines=lines)
    except cues.CaptionRefused as refused:
        return JsonResponse({"error": refused.message}, status=refused.status)
    return JsonResponse({"cues": len(placed.cues), "start": placed.start.isoformat()}, status=201)
