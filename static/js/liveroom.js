// The live room client: tally, ticker and viewer count from WebSocket snapshots.
//
// - Snapshots are whole state with a version; the highest version wins, so a lost or
//   repeated message costs nothing.
// - Reconnects with jittered exponential backoff: after a restart, 20,000 clients of one
//   process come back spread over seconds, not in the same one.
// - Falls back to polling tally.json (cacheable for a second) while WebSockets fail.
// - Donor names and messages are written with textContent, never as HTML.
// - API: window.Pledgecast.liveroom.onSnapshot(fn), .snapshot(); DOM events on the panel:
//   "liveroom:snapshot" (detail: the snapshot), "liveroom:admitted" (a socket delivers: this
//   attendee holds a place), "liveroom:full" (refused: the event is at its capacity; the panel
//   also gets data-full="true") and "liveroom:polling" (no socket can be had here: tally.json
//   instead; the player then plays without waiting for a place); elements with data-live="raised|
//   donors|donations|viewers|goal|ticker|state|bar|progress" are the hooks it fills.
(function () {
  "use strict";
  var root = document.querySelector("[data-live-room]");
  if (!root) return;

  var CLOSE_NOT_FOUND = 4404;
  var CLOSE_FULL = 4429;
  var CLOSE_CLIENT_CAP = 4430;  // this browser (or network) holds as many seats as it may
  var POLL_MS = 3000;
  var REPLAY_POLL_MS = 10000;  // after the show: late gifts, or the show resumed
  var FULL_RETRY_MS = 60000;
  var BACKOFF_FIRST_MS = 5000;  // full jitter over [0, 5 s) first, doubling up to a minute
  var BACKOFF_MAX_MS = 60000;

  var currency = (root.getAttribute("data-currency") || "usd").toUpperCase();
  var money = new Intl.NumberFormat(undefined, { style: "currency", currency: currency });
  var count = new Intl.NumberFormat();
  var reducedMotion = window.matchMedia &&
    window.matchMedia("(prefers-reduced-motion: reduce)").matches;

  function hook(name) { return root.querySelector('[data-live="' + name + '"]'); }
  var el = {};
  ["raised", "donors", "donations", "viewers", "goal", "ticker", "state", "bar", "progress"]
    .forEach(function (name) { el[name] = hook(name); });

  var current = null;      // the latest snapshot applied
  var shownRaised = 0;     // what the animated total shows now, in minor units
  var animation = 0;
  var listeners = [];
  var socket = null;
  var failures = 0;
  var pollTimer = 0;
  var stopped = false;

  function setText(node, text) { if (node) node.textContent = text; }
  // "1 donor", "2 donors": the unit after a count says data-one for 1 and keeps its text else.
  function setCount(name, n) {
    setText(el[name], count.format(n));
    var unit = root.querySelector('[data-live-unit="' + name + '"]');
    if (!unit) return;
    if (!unit.hasAttribute("data-many")) unit.setAttribute("data-many", unit.textContent);
    unit.textContent = n === 1 ? unit.getAttribute("data-one") : unit.getAttribute("data-many");
  }
  function formatMoney(minor) { return money.format(minor / 100); }

  function animateRaised(target) {
    if (animation) cancelAnimationFrame(animation);
    var from = shownRaised;
    if (reducedMotion || from === target) {
      shownRaised = target;
      setText(el.raised, formatMoney(target));
      return;
    }
    var started = performance.now();
    function frame(now) {
      var t = Math.min(1, (now - started) / 800);
      var eased = 1 - Math.pow(1 - t, 3);
      shownRaised = Math.round(from + (target - from) * eased);
      setText(el.raised, formatMoney(shownRaised));
      animation = t < 1 ? requestAnimationFrame(frame) : 0;
    }
    animation = requestAnimationFrame(frame);
  }

  function renderTicker(recent) {
    if (!el.ticker) return;
    var items = [];
    (recent || []).slice(0, 5).forEach(function (donor) {
      var li = document.createElement("li");
      var name = document.createElement("span");
      name.className = "live-name";
      name.textContent = String(donor.name || "Anonymous");  // text, never HTML
      li.appendChild(name);
      if (typeof donor.amount === "number") {
        var amount = document.createElement("span");
        amount.className = "live-amount";
        amount.textContent = formatMoney(donor.amount);
        li.appendChild(amount);
      }
      if (donor.message) {
        var message = document.createElement("span");
        message.className = "live-message";
        message.textContent = String(donor.message);
        li.appendChild(message);
      }
      items.push(li);
    });
    el.ticker.replaceChildren.apply(el.ticker, items);
  }

  function apply(snapshot) {
    if (!snapshot || typeof snapshot.version !== "number") return false;
    if (current && snapshot.version <= current.version) return false;
    current = snapshot;
    animateRaised(snapshot.raised);
    setText(el.goal, formatMoney(snapshot.goal));
    setCount("donors", snapshot.donors);
    setCount("donations", snapshot.donations);
    setText(el.viewers, count.format(snapshot.viewers));
    var percent = snapshot.goal > 0 ? Math.min(100, 100 * snapshot.raised / snapshot.goal) : 0;
    if (el.bar) el.bar.style.width = percent.toFixed(1) + "%";
    if (el.progress) el.progress.setAttribute("aria-valuenow", String(Math.floor(percent)));
    renderTicker(snapshot.recent);
    root.setAttribute("data-version", String(snapshot.version));
    listeners.forEach(function (fn) { try { fn(snapshot); } catch (e) { /* a hook's bug */ } });
    root.dispatchEvent(new CustomEvent("liveroom:snapshot", { detail: snapshot }));
    return true;
  }

  function poll() {
    pollTimer = 0;
    fetch(root.getAttribute("data-tally-url"), { credentials: "omit" })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(apply)
      .catch(function () { /* try again at the next tick */ })
      .then(function () {
        if (!stopped && (socket === null || socket.readyState !== WebSocket.OPEN)) {
          pollTimer = setTimeout(poll, POLL_MS + Math.random() * 1000);
        }
      });
  }

  // The first poll is spread over a second: clients of a restarted process do not all ask at once.
  function startPolling() {
    if (!pollTimer) pollTimer = setTimeout(poll, Math.random() * 1000);
    if (!root.hasAttribute("data-full")) root.dispatchEvent(new CustomEvent("liveroom:polling"));
  }
  function stopPolling() { if (pollTimer) { clearTimeout(pollTimer); pollTimer = 0; } }

  function backoff(attempt) {
    var ceiling = Math.min(BACKOFF_MAX_MS, BACKOFF_FIRST_MS * Math.pow(2, attempt - 1));
    return 250 + Math.random() * ceiling;
  }

  function connect() {
    if (stopped) return;
    if (!("WebSocket" in window)) { startPolling(); return; }
    var scheme = location.protocol === "https:" ? "wss://" : "ws://";
    try {
      socket = new WebSocket(scheme + location.host + root.getAttribute("data-ws-path"));
    } catch (e) {
      socket = null;
      startPolling();
      return;
    }
    var admitted = false;  // per socket: a new socket is a new admission
    socket.onmessage = function (event) {
      var snapshot;
      try { snapshot = JSON.parse(event.data); } catch (e) { return; }
      // A socket that delivers is a healthy one: the backoff starts over (not merely on open,
      // so a server that accepts and closes at once still sees growing delays).
      failures = 0;
      stopPolling();
      if (root.hasAttribute("data-full")) {
        root.removeAttribute("data-full");
        setText(el.state, "");
      }
      if (!admitted) {
        admitted = true;
        root.dispatchEvent(new CustomEvent("liveroom:admitted"));
      }
      apply(snapshot);
    };
    socket.onclose = function (event) {
      socket = null;
      if (event.code === CLOSE_NOT_FOUND) { stopped = true; return; }
      if (event.code === CLOSE_FULL || event.code === CLOSE_CLIENT_CAP) {
        root.setAttribute("data-full", "true");
        // e.g. for the player to step aside, and say why
        root.dispatchEvent(new CustomEvent("liveroom:full", {
          detail: { reason: event.code === CLOSE_FULL ? "capacity" : "client" },
        }));
        setText(el.state, event.code === CLOSE_FULL
          ? "This event is full. The tally keeps updating; we will try to " +
            "let you in when a place frees up."
          : "You are already watching this event in other tabs or on other devices. Close " +
            "one and this page will join; the tally keeps updating.");
        startPolling();
        setTimeout(connect, FULL_RETRY_MS / 2 + Math.random() * FULL_RETRY_MS);
        return;
      }
      failures += 1;
      if (failures >= 2) startPolling();  // WebSockets are failing here: keep the tally moving
      setTimeout(connect, backoff(failures));
    };
  }

  window.Pledgecast = window.Pledgecast || {};
  window.Pledgecast.liveroom = {
    onSnapshot: function (fn) { listeners.push(fn); if (current) fn(current); },
    snapshot: function () { return current; },
  };

  var status = root.getAttribute("data-status");
  if (status === "live" || status === "scheduled") {
    connect();
  } else if (status === "ended") {
    // The replay page: giving goes on, so its tally does too (and a resumed show turns the page
    // live again), from tally.json at a slower pace; no socket held.
    POLL_MS = REPLAY_POLL_MS;
    poll();
  } else {
    poll();  // a cancelled event: its final tally
    stopped = true;
  }
})();
