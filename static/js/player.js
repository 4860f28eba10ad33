// The event's player: hls.js (served by us from npm) where Media Source Extensions exist,
// Safari's native HLS on Apple devices; one cover at a time for what is not video
// ("starts in…", "starting soon", "reconnecting", "watch the replay", "ended").
//
// - Starts from #player-config (the server's view of the stream when the page was made);
//   every later change comes from the live room's snapshots (`status`, `stream`, `replay`),
//   after which it asks stream.json for the URLs, jittered so a whole audience does not ask
//   in the same second.
// - Plays only once the live room admitted this attendee; refused ("liveroom:full"), it shows
//   the "event is full" block and loads no video until a place frees up.
// - A live stream has no native controls (no scrubber, no duration): our bar has play/pause,
//   sound, "behind live" with "jump to live", a quality menu built from the master playlist's
//   renditions (hls.js; Safari picks its own) and full screen. The page's status badge is its
//   one live badge. The replay has the browser's own controls.
// - Live captions: a CC button (aria-pressed) when the stream has a subtitle track (hls.js's
//   subtitleTracks, or Safari's text tracks); the viewer's choice holds across reconnects.
// - Hooks for tests and integrations: data-player-cover on the player names the cover shown;
//   window.Pledgecast.player.state() returns {cover, kind, src, level, levels, engine, error,
//   captions, subtitleTracks}; .playheadDate() the playhead's EXT-X-PROGRAM-DATE-TIME (ms since
//   the epoch) or null.
// - The replay's moments: each replay media playlist hls.js loads dispatches
//   "player:dateranges" on [data-player] (detail.ranges: [{id, cls, start, end (ms or null),
//   attrs}], its EXT-X-DATERANGE entries), and [] when the replay is left (replaytally.js).
(function () {
  "use strict";
  var box = document.querySelector("[data-player]");
  var configNode = document.getElementById("player-config");
  if (!box || !configNode) return;
  var config = JSON.parse(configNode.textContent);

  var page = document.querySelector("[data-event-page]");
  var fullBlock = document.querySelector("[data-event-full]");
  var statusBadge = document.querySelector("[data-event-status]");
  var video = box.querySelector("[data-player-video]");
  var frame = box.querySelector(".player-frame");
  var liveBadge = box.querySelector("[data-player-live]");
  var toggle = box.querySelector("[data-player-toggle]");
  var fullscreen = box.querySelector("[data-player-fullscreen]");
  var goLive = box.querySelector("[data-player-golive]");
  var unmute = box.querySelector("[data-player-unmute]");
  var qualityLabel = box.querySelector("[data-player-quality]");
  var levelsSelect = box.querySelector("[data-player-levels]");
  var announcer = box.querySelector("[data-player-status]");
  var cc = box.querySelector("[data-player-cc]");

  var STATUS_LABELS = { scheduled: "Scheduled", live: "Live", ended: "Ended", cancelled: "Cancelled" };
  var COVER_MESSAGES = {
    soon: "Starting soon.", reconnecting: "Reconnecting.", replay: "The event has ended. The replay is ready.",
    ended: "The event has ended.", joining: "Joining.", register: "Register to watch.",
  };

  var state = {
    status: config.status,
    stream: config.state,
    master: config.master_url,
    replay: config.replay_url,
    td: config.target_duration || 2,
  };
  var mayWatch = box.getAttribute("data-may-watch") === "true";
  var admitted = state.status === "ended" || state.status === "cancelled";
  var full = false;
  var hls = null;
  var src = null;          // what is attached now
  var kind = null;         // "live" | "replay"
  var wantReplay = false;  // the viewer asked for the replay
  var liveEnding = false;  // the stream ended while watching it: play out what is buffered
  var reconnecting = false;
  var lastError = null;
  var retryTimer = 0;
  var resyncTimer = 0;
  var retries = 0;
  var mediaRecoveries = 0;
  var stallTimer = 0;
  var refreshTimer = 0;
  var shownCover = null;
  var captionsOn = false;  // the viewer's choice (CC)

  function say(text) { if (announcer && text) announcer.textContent = text; }

  function showCover(name) {
    if (name === shownCover) return;
    shownCover = name;
    box.querySelectorAll("[data-cover]").forEach(function (node) {
      node.hidden = node.getAttribute("data-cover") !== name;
    });
    box.setAttribute("data-player-cover", name || "");
    if (name && COVER_MESSAGES[name]) say(COVER_MESSAGES[name]);
  }

  function backoff(attempt) {  // jittered, 1 s up to 30 s
    return Math.min(30000, 1000 * Math.pow(2, attempt)) * (0.5 + Math.random() / 2);
  }

  // --- Attaching and detaching ------------------------------------------------------------
  function preferNative() {
    // Apple's own HLS on Safari (macOS, iOS, iPadOS); hls.js everywhere MSE exists.
    var native = video.canPlayType("application/vnd.apple.mpegurl");
    var apple = /Apple/.test(navigator.vendor || "");
    return native && (apple || !(window.Hls && window.Hls.isSupported()));
  }

  function detach() {
    if (kind === "replay") tellDateRanges([]);
    clearTimeout(retryTimer);
    clearTimeout(stallTimer);
    retryTimer = stallTimer = 0;
    if (hls) { hls.destroy(); hls = null; }
    if (src) {
      video.removeAttribute("src");
      video.load();
    }
    src = kind = null;
    liveEnding = reconnecting = false;
    video.controls = false;
    qualityLabel.hidden = true;
    updateCaptions();
    updateBar();
  }

  // --- Captions (CC) -------------------------------------------------------------------------
  function nativeTextTracks() {
    return Array.prototype.filter.call(video.textTracks || [], function (track) {
      return track.kind === "subtitles" || track.kind === "captions";
    });
  }

  function subtitleCount() {
    if (hls) return (hls.subtitleTracks || []).length;
    return src ? nativeTextTracks().length : 0;
  }

  function updateCaptions() {
    var count = subtitleCount();
    var on = captionsOn && count > 0;
    cc.hidden = count === 0;
    cc.setAttribute("aria-pressed", on ? "true" : "false");
    if (hls) {
      hls.subtitleDisplay = on;
      var wanted = on ? 0 : -1;
      if (hls.subtitleTrack !== wanted) hls.subtitleTrack = wanted;
    } else {
      nativeTextTracks().forEach(function (track, index) {
        track.mode = on && index === 0 ? "showing" : "disabled";
      });
    }
  }

  cc.addEventListener("click", function () {
    captionsOn = !captionsOn;
    updateCaptions();
    say(captionsOn ? "Captions on." : "Captions off.");
  });
  if (video.textTracks && video.textTracks.addEventListener) {
    video.textTracks.addEventListener("addtrack", function () { if (!hls) updateCaptions(); });
  }

  function attach(url, what) {
    if (src === url && (hls || video.getAttribute("src"))) return;
    detach();
    src = url;
    kind = what;
    lastError = null;
    video.controls = what === "replay";
    if (preferNative()) {
      video.src = url;
      tryPlay();
    } else if (window.Hls && window.Hls.isSupported()) {
      startHls(url, what);
    } else {
      src = kind = null;
      showCover("unsupported");
      return;
    }
    updateBar();
  }

  // --- The replay's moments (EXT-X-DATERANGE) --------------------------------------------------
  function tellDateRanges(ranges) {
    box.dispatchEvent(new CustomEvent("player:dateranges", { detail: { ranges: ranges } }));
  }

  function onLevelDetails(_event, data) {
    if (kind !== "replay" || !data || !data.details) return;
    var found = data.details.dateRanges || {};
    tellDateRanges(Object.keys(found).map(function (id) {
      var range = found[id];
      var end = range.endDate;
      return {
        id: id, cls: range.class || "", start: range.startDate.getTime(),
        end: end ? end.getTime() : null, attrs: range.attr,
      };
    }));
  }

  function playheadDate() {
    if (hls) {
      var date = hls.playingDate;
      return date ? date.getTime() : null;
    }
    var start = src && video.getStartDate ? video.getStartDate().getTime() : NaN;
    return isFinite(start) ? start + video.currentTime * 1000 : null;
  }

  function startHls(url, what) {
    var Hls = window.Hls;
    var options = {
      backBufferLength: what === "live" ? 30 : 90,
      capLevelToPlayerSize: true,
      lowLatencyMode: false,
      // Three segments from the live edge (RFC 8216 §6.3.3), and never further than ten.
      liveSyncDurationCount: 3,
      liveMaxLatencyDurationCount: 10,
    };
    if (what === "live" && config.latency === "low") {
      // LL-HLS: parts, blocking reloads, and the playlist's PART-HOLD-BACK as the target
      // (hls.js uses it only when no liveSync* option is given).
      options.lowLatencyMode = true;
      delete options.liveSyncDurationCount;
      delete options.liveMaxLatencyDurationCount;
    }
    hls = new Hls(options);
    hls.on(Hls.Events.MANIFEST_PARSED, function () {
      buildLevels();
      updateCaptions();
      tryPlay();
    });
    hls.on(Hls.Events.SUBTITLE_TRACKS_UPDATED, updateCaptions);
    hls.on(Hls.Events.LEVEL_LOADED, onLevelDetails);
    hls.on(Hls.Events.LEVEL_UPDATED, onLevelDetails);
    hls.on(Hls.Events.LEVEL_SWITCHED, updateLevelLabel);
    hls.on(Hls.Events.FRAG_BUFFERED, function () {
      if (reconnecting) { reconnecting = false; retries = 0; decide(); }
    });
    hls.on(Hls.Events.ERROR, function (_event, data) {
      if (!data.fatal) return;  // hls.js retries those itself
      lastError = data.type + ":" + data.details;
      if (data.type === Hls.ErrorTypes.MEDIA_ERROR && mediaRecoveries < 3) {
        mediaRecoveries += 1;
        hls.recoverMediaError();
        return;
      }
      // The network gave up (origin away, URL expired, playlist gone): start over, with the
      // URLs asked afresh (a signed URL may have expired), after a jittered backoff.
      reconnecting = true;
      decide();
      var attempt = retries++;
      clearTimeout(retryTimer);
      retryTimer = setTimeout(function () {
        if (hls) { hls.destroy(); hls = null; }
        src = null;  // decide() attaches again, to the URL stream.json gives now
        refresh(0, decide);
      }, backoff(attempt));
    });
    hls.loadSource(url);
    hls.attachMedia(video);
  }

  function tryPlay() {
    var playing = video.play();
    if (playing && playing.catch) {
      playing.then(function () {
        if (shownCover === "play") decide();
      }).catch(function (error) {
        if (error && error.name === "NotAllowedError") showCover("play");  // autoplay refused
      });
    }
  }

  // --- What to show --------------------------------------------------------------------------
  // The stream states in which the show's video plays, or waits for its encoder to return.
  function playing(stream) {
    return stream === "live" || stream === "reconnecting" || stream === "stalled";
  }

  function decide() {
    if (full) { detach(); showCover(null); return; }
    if (!mayWatch) { detach(); showCover("register"); return; }
    var live = playing(state.stream) && state.master;
    if (live && state.status !== "ended") {
      if (!admitted) { showCover("joining"); return; }
      attach(state.master, "live");
      // The encoder dropped: the show goes on, the player waits for it (never "ended").
      showCover(reconnecting || state.stream !== "live" ? "reconnecting" : null);
      return;
    }
    if (kind === "live" && liveEnding && !video.ended) {
      showCover(null);  // the last seconds still play
      return;
    }
    if (state.stream === "ended" && state.replay) {
      if (wantReplay) {
        attach(state.replay, "replay");
        showCover(reconnecting ? "reconnecting" : null);
      } else {
        detach();
        showCover("replay");
      }
      return;
    }
    detach();
    if (state.status === "scheduled") showCover("before");
    else if (state.status === "live") showCover("soon");
    else showCover("ended");
  }

  // The encoder came back: if the player has not picked the video up again within three
  // target durations (it fell out of the live window while waiting), start over at the edge.
  function resyncWhenBack() {
    clearTimeout(resyncTimer);
    resyncTimer = setTimeout(function () {
      if (kind !== "live" || state.stream !== "live" || shownCover === "play") return;
      if (!reconnecting && video.readyState >= 3 && !video.paused) return;
      if (hls) { hls.destroy(); hls = null; }
      src = null;
      decide();
    }, 3000 * state.td);
  }

  function apply(next) {
    var wasLive = kind === "live";
    var wasWaiting = state.stream === "reconnecting" || state.stream === "stalled";
    if (wasWaiting && next.state === "live" && wasLive) resyncWhenBack();
    state.status = next.status;
    state.stream = next.state;
    state.master = next.master_url;
    state.replay = next.replay_url;
    state.td = next.target_duration || state.td;
    if (wasLive && state.stream === "ended" && !video.paused && !video.ended) {
      liveEnding = true;
      // hls.js plays out to ENDLIST; "ended" then shows the replay cover. Never wait forever.
      setTimeout(function () { liveEnding = false; decide(); }, 6000 * state.td);
    }
    if (page) page.setAttribute("data-status", state.status);
    if (statusBadge && STATUS_LABELS[state.status]) {
      statusBadge.textContent = STATUS_LABELS[state.status];
      statusBadge.className = "badge badge-" + state.status;
    }
    decide();
  }

  // stream.json now (after `delay` ms); `then` runs after it answered or failed.
  function refresh(delay, then) {
    clearTimeout(refreshTimer);
    refreshTimer = setTimeout(function () {
      fetch(config.stream_url, { credentials: "same-origin" })
        .then(function (r) { return r.ok ? r.json() : null; })
        .then(function (next) { if (next) apply(next); })
        .catch(function () { /* the live room's next change, or the retry, asks again */ })
        .then(function () { if (then) then(); });
    }, delay);
  }

  // --- Behind live, jump to live, play, sound, quality, full screen ----------------------------
  function liveEdge() {
    if (kind !== "live") return null;
    if (hls && typeof hls.liveSyncPosition === "number") return hls.liveSyncPosition;
    var ranges = video.seekable;
    if (!ranges || !ranges.length) return null;
    return ranges.end(ranges.length - 1) - 3 * state.td;
  }

  function behindLive() {
    var edge = liveEdge();
    if (edge === null) return false;
    return video.paused || edge - video.currentTime > Math.max(3 * state.td, 6);
  }

  function canFullscreen() {
    return Boolean(frame.requestFullscreen || video.webkitEnterFullscreen);
  }

  function updateBar() {
    var isLive = kind === "live";
    var behind = isLive && behindLive();
    liveBadge.hidden = !behind;
    goLive.hidden = !behind;
    toggle.hidden = unmute.hidden = !isLive;
    fullscreen.hidden = !isLive || !canFullscreen();
    toggle.classList.toggle("is-paused", video.paused);
    toggle.setAttribute("aria-label", video.paused ? "Play" : "Pause");
    unmute.classList.toggle("is-muted", video.muted);
    unmute.setAttribute("aria-label", video.muted ? "Unmute" : "Mute");
  }

  function buildLevels() {
    var levels = (hls && hls.levels) || [];
    var options = [new Option("Auto", "-1")];
    var order = levels.map(function (level, index) { return { level: level, index: index }; })
      .sort(function (a, b) { return (b.level.height - a.level.height) || (b.level.bitrate - a.level.bitrate); });
    order.forEach(function (item) {
      var level = item.level;
      var label = level.height ? level.height + "p" : Math.round(level.bitrate / 1000) + " kb/s";
      options.push(new Option(label, String(item.index)));
    });
    levelsSelect.replaceChildren.apply(levelsSelect, options);
    levelsSelect.value = "-1";
    qualityLabel.hidden = levels.length < 2;
    updateLevelLabel();
  }

  function updateLevelLabel() {
    if (!hls || !levelsSelect.options.length) return;
    var auto = levelsSelect.options[0];
    var level = hls.levels[hls.currentLevel];
    auto.textContent = hls.autoLevelEnabled && level && level.height
      ? "Auto (" + level.height + "p)" : "Auto";
  }

  levelsSelect.addEventListener("change", function () {
    if (!hls) return;
    var chosen = parseInt(levelsSelect.value, 10);
    hls.currentLevel = chosen;  // -1 is automatic again
    say(chosen < 0 ? "Quality: automatic." : "Quality: " + levelsSelect.selectedOptions[0].textContent + ".");
  });

  goLive.addEventListener("click", function () {
    var edge = liveEdge();
    if (edge !== null) video.currentTime = edge;
    tryPlay();
    say("Back at live.");
    updateBar();
  });
  unmute.addEventListener("click", function () {
    video.muted = !video.muted;
    updateBar();
  });
  function togglePlay() {
    if (video.paused) tryPlay(); else video.pause();
    updateBar();
  }
  toggle.addEventListener("click", togglePlay);
  video.addEventListener("click", function () { if (kind === "live") togglePlay(); });
  fullscreen.addEventListener("click", function () {
    if (document.fullscreenElement) { document.exitFullscreen(); return; }
    if (frame.requestFullscreen) frame.requestFullscreen();
    else video.webkitEnterFullscreen();  // iPhone: the video alone
  });
  box.querySelector("[data-player-replay]").addEventListener("click", function () {
    wantReplay = true;
    decide();
    video.focus();
  });
  box.querySelector("[data-player-play]").addEventListener("click", function () {
    tryPlay();
    decide();
  });

  video.addEventListener("timeupdate", updateBar);
  video.addEventListener("pause", updateBar);
  video.addEventListener("play", updateBar);
  video.addEventListener("volumechange", updateBar);
  video.addEventListener("playing", function () {
    clearTimeout(stallTimer);
    stallTimer = 0;
    mediaRecoveries = 0;
    if (reconnecting) { reconnecting = false; retries = 0; }
    decide();
    updateBar();
  });
  // Waiting for data for more than two target durations while live: say it.
  video.addEventListener("waiting", function () {
    if (kind !== "live" || stallTimer) return;
    stallTimer = setTimeout(function () {
      stallTimer = 0;
      if (video.readyState < 3 && kind === "live") { reconnecting = true; decide(); }
    }, 2000 * state.td);
  });
  video.addEventListener("ended", function () {
    if (kind === "live") { liveEnding = false; decide(); }
  });
  video.addEventListener("error", function () {
    lastError = video.error ? "media:" + video.error.code : "media";
  });

  // --- The live room: admission and changes --------------------------------------------------
  var room = document.querySelector("[data-live-room]");
  function admit() {
    if (full) {
      full = false;
      if (fullBlock) fullBlock.hidden = true;
      box.hidden = false;
    }
    if (!admitted) {
      admitted = true;
      // A signed live stream's URL is not in the page: stream.json gives it to admitted
      // attendees only.
      if (playing(state.stream) && !state.master) refresh(0, decide);
      else decide();
    }
  }
  if (room) {
    room.addEventListener("liveroom:admitted", admit);
    // The socket cannot be had here (a proxy, no WebSockets): do not hold the video hostage.
    room.addEventListener("liveroom:polling", admit);
    room.addEventListener("liveroom:full", function (event) {
      var reason = (event.detail && event.detail.reason) || "capacity";
      if (fullBlock) {
        fullBlock.querySelectorAll("[data-full-reason]").forEach(function (part) {
          part.hidden = part.getAttribute("data-full-reason") !== reason;
        });
      }
      if (full) return;
      full = true;
      admitted = false;
      decide();
      box.hidden = true;
      if (fullBlock) { fullBlock.hidden = false; fullBlock.focus(); }
    });
    // Neither a place nor a refusal after a while (a slow proxy): play rather than wait.
    setTimeout(function () { if (!full) admit(); }, 10000);
  } else {
    admitted = true;
  }
  if (window.Pledgecast && window.Pledgecast.liveroom) {
    window.Pledgecast.liveroom.onSnapshot(function (snapshot) {
      if (typeof snapshot.stream !== "string") return;
      var changed = snapshot.status !== state.status || snapshot.stream !== state.stream ||
        Boolean(snapshot.replay) !== Boolean(state.replay);
      if (changed) refresh(Math.random() * Math.min(2000, 500 * state.td));
    });
  }

  window.Pledgecast = window.Pledgecast || {};
  window.Pledgecast.player = {
    state: function () {
      return {
        cover: shownCover, kind: kind, src: src, error: lastError,
        level: hls ? hls.currentLevel : null, levels: hls ? hls.levels.length : 0,
        engine: hls ? "hls.js" : (src ? "native" : null),
        captions: cc.getAttribute("aria-pressed") === "true", subtitleTracks: subtitleCount(),
      };
    },
    playheadDate: playheadDate,
  };
  decide();
})();
