// The goal's extras in the live panel, from the live room's snapshots (liveroom.js):
//
// - The match banner while a sponsor's match is open: "Every gift doubled by Acme until 9:00 PM,
//   $3,500 of $5,000 match left" (tripled for 2:1), "Acme's $5,000 match is met" once it is
//   used up; hidden outside its window (re-checked at the window's start and end).
// - A milestone celebrates once per browser: each crossed milestone's id is kept (in memory,
//   and in localStorage across reloads). A page that opens after a crossing celebrates it only
//   if it happened in the last two minutes. The line is said by its live region; the pop
//   respects prefers-reduced-motion (CSS). data-celebrations on the panel counts them.
(function () {
  "use strict";
  var root = document.querySelector("[data-live-room]");
  var live = window.Pledgecast && window.Pledgecast.liveroom;
  if (!root || !live) return;
  var banner = root.querySelector('[data-live="match"]');
  var cheer = root.querySelector('[data-live="milestone"]');
  var RECENT_MS = 2 * 60 * 1000;
  var SHOW_MS = 10000;
  var MAX_TIMER_MS = 24 * 3600 * 1000;
  var storageKey = "pc:milestones:" + root.getAttribute("data-ws-path");
  var clock = new Intl.DateTimeFormat(undefined, { hour: "numeric", minute: "2-digit" });

  function load() {
    try { return JSON.parse(localStorage.getItem(storageKey) || "[]"); } catch (e) { return []; }
  }
  function store(ids) {
    try { localStorage.setItem(storageKey, JSON.stringify(ids.slice(-50))); } catch (e) { /* */ }
  }

  var celebrated = load();
  var firstSnapshot = true;
  var count = 0;
  var hideTimer = 0;
  var match = null;
  var matchTimer = 0;

  function showMatch() {
    if (matchTimer) { clearTimeout(matchTimer); matchTimer = 0; }
    if (!banner) return;
    var now = Date.now();
    var starts = match ? Date.parse(match.starts) : NaN;
    var ends = match ? Date.parse(match.ends) : NaN;
    var open = match && starts <= now && now < ends;
    if (match && now < ends) {  // turn the banner on (or off) when the window opens (or closes)
      matchTimer = setTimeout(showMatch, Math.min(MAX_TIMER_MS, (now < starts ? starts : ends) - now + 50));
    }
    if (!open) { banner.hidden = true; banner.textContent = ""; return; }
    var money = live.formatMoney;
    banner.textContent = match.left > 0
      ? "Every gift " + (match.ratio === 2 ? "tripled" : "doubled") + " by " + match.sponsor +
        " until " + clock.format(new Date(ends)) + ", " + money(match.left) + " of " +
        money(match.cap) + " match left"
      : match.sponsor + "\u2019s " + money(match.cap) + " match is met. Thank you!";
    banner.hidden = false;
  }

  function celebrate(milestone) {
    count += 1;
    root.setAttribute("data-celebrations", String(count));
    var mark = document.createElement("span");
    mark.setAttribute("aria-hidden", "true");
    mark.textContent = "\uD83C\uDF89 ";
    cheer.replaceChildren(mark, document.createTextNode("Milestone reached: " + milestone.label));
    cheer.classList.remove("celebrating");
    void cheer.offsetWidth;  // restart the pop for a second milestone in a row
    cheer.classList.add("celebrating");
    if (hideTimer) clearTimeout(hideTimer);
    hideTimer = setTimeout(function () {
      cheer.classList.remove("celebrating");
      cheer.replaceChildren();
    }, SHOW_MS);
  }

  live.onSnapshot(function (snapshot) {
    match = snapshot.match || null;
    showMatch();
    var fresh = (snapshot.milestones || []).filter(function (m) {
      return celebrated.indexOf(m.id) < 0;
    });
    if (fresh.length) {
      fresh.forEach(function (m) { celebrated.push(m.id); });
      store(celebrated);
      // Several crossed at once (one large gift): the highest is the one said.
      var newest = fresh[fresh.length - 1];
      if (cheer && (!firstSnapshot || Date.now() - Date.parse(newest.at) < RECENT_MS)) {
        celebrate(newest);
      }
    }
    firstSnapshot = false;
  });
})();
