// The replay's tally: as the replay plays, the live panel shows what the tally read at that
// moment of the show, from the EXT-X-DATERANGE entries the origin put in the replay's playlists
// (liveroom/moments.py), with "raised since" beside it (liveroom.js's showMoment).
//
// - player.js hands over the entries hls.js parsed ("player:dateranges") and the playhead's
//   program date-time (window.Pledgecast.player.playheadDate()).
// - CLASS "com.pledgecast.tally": X-TOTAL-MINOR, X-TOTAL-GIFTS and X-DONORS are the tally once
//   the playhead is in that entry; the totals only grow, so the moment is the largest of the
//   entries begun by then (the first one's before any); the ticker, the newest five of their
//   X-TICKER lines (UTF-8 JSON in a hexadecimal-sequence). "com.pledgecast.ask": its X-LABEL
//   while the playhead is between its START-DATE and END-DATE.
// - Safari's own HLS player gives pages no date ranges: there the panel keeps today's tally.
(function () {
  "use strict";
  var box = document.querySelector("[data-player]");
  var video = box && box.querySelector("[data-player-video]");
  if (!box || !video) return;
  var TALLY = "com.pledgecast.tally";
  var ASK = "com.pledgecast.ask";
  var tallies = [];
  var asks = [];

  function number(attrs, name) {
    var value = Number(attrs && attrs[name]);
    return isFinite(value) && value >= 0 ? value : 0;
  }

  var LINES = 5;

  // X-TICKER: "0x…" of UTF-8 JSON [{name, amount, message}]; [] for anything else.
  function tickerLines(value) {
    if (typeof value !== "string" || !/^0[xX](?:[0-9A-Fa-f]{2})+$/.test(value)) return [];
    var bytes = new Uint8Array((value.length - 2) / 2);
    for (var i = 0; i < bytes.length; i++) bytes[i] = parseInt(value.substr(2 + 2 * i, 2), 16);
    try {
      var lines = JSON.parse(new TextDecoder().decode(bytes));
      return Array.isArray(lines) ? lines.slice(0, LINES) : [];
    } catch (e) {
      return [];
    }
  }

  function momentAt(date) {
    if (date === null || !tallies.length) return null;
    // In the tally's order (totals only grow): the last entry begun is the moment's.
    var best = tallies[0];
    var recent = tallies[0].lines;
    tallies.forEach(function (entry, index) {
      if (index === 0 || entry.start > date) return;
      best = entry;
      recent = entry.lines.concat(recent).slice(0, LINES);
    });
    var ask = "";
    asks.forEach(function (entry) {
      if (entry.start <= date && (entry.end === null || date < entry.end)) ask = entry.label;
    });
    return {
      raised: best.raised, donations: best.donations, donors: best.donors, ask: ask,
      recent: recent,
    };
  }

  function update() {
    var pc = window.Pledgecast || {};
    if (!pc.liveroom || !pc.player) return;
    pc.liveroom.showMoment(momentAt(pc.player.playheadDate()));
  }

  box.addEventListener("player:dateranges", function (event) {
    var ranges = (event.detail && event.detail.ranges) || [];
    tallies = ranges.filter(function (r) { return r.cls === TALLY; }).map(function (r) {
      return {
        start: r.start, raised: number(r.attrs, "X-TOTAL-MINOR"),
        donations: number(r.attrs, "X-TOTAL-GIFTS"), donors: number(r.attrs, "X-DONORS"),
        lines: tickerLines(r.attrs && r.attrs["X-TICKER"]),
      };
    }).sort(function (a, b) { return (a.raised - b.raised) || (a.start - b.start); });
    asks = ranges.filter(function (r) { return r.cls === ASK; }).map(function (r) {
      return { start: r.start, end: r.end, label: String((r.attrs && r.attrs["X-LABEL"]) || "") };
    }).sort(function (a, b) { return a.start - b.start; });
    update();
  });
  video.addEventListener("timeupdate", update);
  video.addEventListener("seeked", update);
})();
