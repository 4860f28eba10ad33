// The green room on the staff's live dashboard (liveroom/greenroom.py): a preview of the
// stream, playing from a signed, staff-only playlist URL (preview.json) before and during the
// show; and a confirmation before the show's buttons post.
(function () {
  "use strict";
  var video = document.querySelector("[data-preview]");
  var note = document.querySelector("[data-preview-note]");
  var RETRY_MS = 3000;
  var hls = null;
  var playing = null;  // the URL attached

  function say(text) { if (note) note.textContent = text; }

  function detach() {
    if (hls) { hls.destroy(); hls = null; }
    playing = null;
  }

  function attach(url) {
    if (playing === url) return;
    detach();
    playing = url;
    if (window.Hls && window.Hls.isSupported()) {
      hls = new window.Hls({ liveSyncDurationCount: 3 });
      hls.on(window.Hls.Events.ERROR, function (_event, data) {
        if (data.fatal) { detach(); say("The preview lost the stream; retrying…"); }
      });
      hls.loadSource(url);
      hls.attachMedia(video);
    } else if (video.canPlayType("application/vnd.apple.mpegurl")) {
      video.src = url;
    }
    var started = video.play();
    if (started && started.catch) started.catch(function () { /* muted autoplay refused */ });
  }

  function check() {
    fetch(video.getAttribute("data-preview-url"), { credentials: "same-origin", cache: "no-store" })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (answer) {
        if (!answer) return;
        if (answer.url && (answer.state === "live" || answer.state === "reconnecting")) {
          attach(answer.url);
          say(answer.state === "live" ? "Preview: what the encoder sends now." :
            "The encoder stopped sending: waiting for it to reconnect…");
        } else if (answer.state === "ended") {
          detach();
          say("The show has ended.");
        } else if (!playing) {
          say("Waiting for video from the encoder…");
        }
      })
      .catch(function () { /* the next check */ })
      .then(function () { setTimeout(check, RETRY_MS); });
  }

  if (video) check();

  // The show's buttons ask first: going live or ending is for every viewer at once.
  document.addEventListener("submit", function (event) {
    var form = event.target;
    var question = form && form.getAttribute && form.getAttribute("data-confirm");
    if (question && !window.confirm(question)) event.preventDefault();
  });
})();
