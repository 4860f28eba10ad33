// The live room client: tally, ticker and viewer count from WebSocket snapshots.
//
// - Snapshots are whole state with a version; the highest version wins, so a lost or
//   repeated message costs nothing.
// - Reconnects with jittered exponential backoff: after a restart, 20,000 clients of one
//   process come back spread over seconds, not in the same one.
// - Falls back to polling tally.json (cacheable for a second) while WebSockets fail.
// - Donor names and messages are written with textContent, never as HTML.
// - API: window.Pledgecast.liveroom.onSnapshot(fn), .snapshot(), .send(message) (a JSON object
//   to the live room; false when no socket is open), .onMessage(fn) (every frame that is not a
//   snapshot: it has a "type", liveroom/inbound.py); DOM events on the panel:
//   "liveroom:snapshot" (detail: the snapshot), "liveroom:admitted" (a socket delivers: this
//   attendee holds a place), "liveroom:closed" (that socket is gone; another follows by itself),
//   "liveroom:full" (refused: the event is at its capacity; the panel
//   also gets data-full="true") and "liveroom:polling" (no socket can be had here: tally.json
//   instead; the player then plays without waiting for a place); elements with data-live="raised|
//   donors|donations|viewers|goal|ticker|state|bar|percent|progress|matched|matched-bar|
//   matched-line" are the hooks it fills; .formatMoney(minor) writes money as the panel does.
// - Money in whole dollars when it is whole ("$50,000"), as events/money.py writes it. The total
//   counts up to a new figure in whole dollars, never down and never past it (at once when the
//   viewer asks for reduced motion, and on the first snapshot). The bar shows any gift (at least
//   a dot) with the share as text beside it; what sponsors' matches add (`matched`) follows the
//   donors' part in a bar of its own, counted in the share and said in text ("+ $500 matched"). The viewer count counts this viewer once admitted;
//   "—" until the first snapshot.
// - The replay's moment: .showMoment({raised, donations, donors, ask, recent} or null) puts the
//   tally as it read at the replay's playhead in the thermometer, totals, counts and ticker, with
//   "raised since: $X" (today's total less the moment's) and the ask then on screen beside it,
//   until null gives today's back (replaytally.js calls it as the replay plays).
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
  var SEATS_RETRY_MS = 3000;
  var fullRetry = 0;        // the next attempt of a page refused a seat
  var fullSoon = false;     // ... brought forward because seats are free
  var fullSince = 0;        // when the last refusal came
  var BACKOFF_FIRST_MS = 5000;  // full jitter over [0, 5 s) first, doubling up to a minute
  var BACKOFF_MAX_MS = 60000;

  var currency = (root.getAttribute("data-currency") || "usd").toUpperCase();
  var money = new Intl.NumberFormat(undefined, { style: "currency", currency: currency });
  var wholeMoney = new Intl.NumberFormat(undefined, {
    style: "currency", currency: currency, minimumFractionDigits: 0, maximumFractionDigits: 0,
  });
  var count = new Intl.NumberFormat();
  var reducedMotion = window.matchMedia &&
    window.matchMedia("(prefers-reduced-motion: reduce)").matches;

  function hook(name) { return root.querySelector('[data-live="' + name + '"]'); }
  var el = {};
  ["raised", "donors", "donations", "viewers", "goal", "ticker", "state", "bar", "percent",
    "progress", "moment", "since", "moment-ask", "matched", "matched-bar", "matched-line"]
    .forEach(function (name) { el[name] = hook(name); });

  var current = null;      // the latest snapshot applied
  var moment = null;       // the replay's moment shown instead of today's figures, or null
  var shownRaised = null;  // what the animated total shows now, in minor units
  var admittedHere = false;  // a socket delivers: this viewer is one of those watching
  var animation = 0;
  var listeners = [];
  var messageListeners = [];
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
  function formatMoney(minor) {
    return minor % 100 === 0 ? wholeMoney.format(minor / 100) : money.format(minor / 100);
  }
  function showRaised(minor) {
    shownRaised = minor;
    var text = formatMoney(minor);
    if (el.raised && el.raised.textContent !== text) el.raised.textContent = text;
  }

  // Up to a higher total: eased, in whole dollars between the two (so every figure shown lies
  // between the old total and the new one, and only grows); the exact total last.
  function animateRaised(target) {
    if (animation) cancelAnimationFrame(animation);
    animation = 0;
    var from = shownRaised;
    if (reducedMotion || from === null || target <= from) {
      showRaised(target);
      return;
    }
    var started = performance.now();
    function frame(now) {
      var t = Math.min(1, (now - started) / 800);
      var eased = 1 - Math.pow(1 - t, 3);
      var dollars = Math.floor((from + (target - from) * eased) / 100) * 100;
      showRaised(t < 1 ? Math.min(target, Math.max(from, dollars)) : target);
      animation = t < 1 ? requestAnimationFrame(frame) : 0;
    }
    animation = requestAnimationFrame(frame);
  }

  // The share of the goal as people read it: "0%", "<0.1%", "0.3%", "12%", "140%"; never more
  // than was raised (rounded down).
  function percentText(raised, goal) {
    if (!(goal > 0) || raised <= 0) return "0%";
    var tenths = Math.floor(1000 * raised / goal);  // of a percent
    if (tenths < 1) return "<0.1%";
    if (tenths < 100) return (tenths / 10) + "%";
    return Math.floor(tenths / 10) + "%";
  }

  // The thermometer holds raised + matched: the donors' part, then the sponsors' beside it.
  function showProgress(raised, matched, goal) {
    function share(minor) { return goal > 0 ? Math.min(100, 100 * minor / goal) : 0; }
    var total = raised + matched;
    var percent = share(total);
    // Any gift shows: a dot of bar at least (its height, round).
    if (el.bar) el.bar.style.width = raised > 0 ? "max(0.9rem, " + share(raised).toFixed(2) + "%)" : "0";
    if (el["matched-bar"]) {
      el["matched-bar"].style.width = matched > 0 ? (percent - share(raised)).toFixed(2) + "%" : "0";
    }
    setText(el.percent, percentText(total, goal));
    if (el.matched) setText(el.matched, formatMoney(matched));
    if (el["matched-line"]) el["matched-line"].hidden = !(matched > 0);
    if (el.progress) {
      el.progress.setAttribute("aria-valuenow", String(Math.floor(10 * percent) / 10));
      el.progress.setAttribute("aria-valuetext", percentText(total, goal) + " of the goal" +
        (matched > 0 ? ": " + formatMoney(raised) + " raised + " + formatMoney(matched) + " matched" : ""));
    }
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

  // The figures of the tally: today's (the snapshot), or the replay's moment.
  function showFigures() {
    if (!current && !moment) return;
    var shown = moment || current;
    var goal = current ? current.goal : pageGoal;
    animateRaised(shown.raised);
    setCount("donors", shown.donors);
    setCount("donations", shown.donations);
    // A replay's moment carries the donors' money only: sponsors' matches are today's.
    showProgress(shown.raised, moment ? 0 : current.matched || 0, goal);
    if (el.moment) el.moment.hidden = !moment;
    if (el["moment-ask"]) {
      el["moment-ask"].hidden = !(moment && moment.ask);
      setText(el["moment-ask"], moment && moment.ask ? "On screen: " + moment.ask : "");
    }
    if (moment) {
      setText(el.since, current ? formatMoney(Math.max(0, current.raised - moment.raised)) : "—");
    }
    renderTicker(moment ? moment.recent : current.recent);
  }

  function apply(snapshot) {
    if (!snapshot || typeof snapshot.version !== "number") return false;
    if (current && snapshot.version <= current.version) return false;
    current = snapshot;
    setText(el.goal, formatMoney(snapshot.goal));
    showFigures();
    showViewers();
    seatsFreed(snapshot);
    root.setAttribute("data-version", String(snapshot.version));
    listeners.forEach(function (fn) { try { fn(snapshot); } catch (e) { /* a hook's bug */ } });
    root.dispatchEvent(new CustomEvent("liveroom:snapshot", { detail: snapshot }));
    return true;
  }

  // Refused for capacity, the page polls tally.json: once a snapshot shows seats free (the
  // event moved to a larger tier, or viewers left), it tries again within SEATS_RETRY_MS
  // (jittered, so the waiting pages do not all come at once) instead of its minute's wait.
  function seatsFreed(snapshot) {
    if (!root.hasAttribute("data-full") || socket || !(snapshot.capacity > 0)) return;
    if (snapshot.viewers >= snapshot.capacity || Date.now() - fullSince < 1000) return;
    if (fullRetry && fullSoon) return;
    clearTimeout(fullRetry);
    fullSoon = true;
    fullRetry = setTimeout(function () { fullSoon = false; connect(); },
      Math.random() * SEATS_RETRY_MS);
  }

  // A count made before this viewer's arrival reached it still counts them.
  function showViewers() {
    if (!current) return;
    var viewers = current.viewers;
    if (admittedHere) viewers = Math.max(1, viewers);
    setText(el.viewers, count.format(viewers));
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
    if (stopped || socket) return;  // one socket at a time (a full page's two timers)
    clearTimeout(fullRetry);
    fullRetry = 0;
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
        admittedHere = true;
        root.dispatchEvent(new CustomEvent("liveroom:admitted"));
      }
      if (snapshot && typeof snapshot.type === "string") {  // a reply, or a burst: not state
        messageListeners.forEach(function (fn) { try { fn(snapshot); } catch (e) { /* */ } });
        return;
      }
      if (!apply(snapshot)) showViewers();
    };
    socket.onclose = function (event) {
      socket = null;
      admittedHere = false;  // the next snapshot's count is the room's own
      root.dispatchEvent(new CustomEvent("liveroom:closed"));
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
        fullRetry = setTimeout(connect, FULL_RETRY_MS / 2 + Math.random() * FULL_RETRY_MS);
        fullSince = Date.now();
        return;
      }
      failures += 1;
      if (failures >= 2) startPolling();  // WebSockets are failing here: keep the tally moving
      setTimeout(connect, backoff(failures));
    };
  }

  // The goal is known before any snapshot: no "—" to replace under the viewer's eyes.
  var pageGoal = parseInt(root.getAttribute("data-goal"), 10);
  if (pageGoal > 0) setText(el.goal, formatMoney(pageGoal));

  window.Pledgecast = window.Pledgecast || {};
  window.Pledgecast.liveroom = {
    onSnapshot: function (fn) { listeners.push(fn); if (current) fn(current); },
    snapshot: function () { return current; },
    send: function (message) {
      if (!socket || socket.readyState !== WebSocket.OPEN || !admittedHere) return false;
      socket.send(JSON.stringify(message));
      return true;
    },
    onMessage: function (fn) { messageListeners.push(fn); },
    showMoment: function (next) {
      var key = next ? JSON.stringify([next.raised, next.donations, next.donors, next.ask,
        next.recent]) : null;
      if (key === (moment && moment.key) || (!moment && !next)) return;
      moment = next ? {
        raised: next.raised, donations: next.donations, donors: next.donors, ask: next.ask || "",
        recent: Array.isArray(next.recent) ? next.recent : [], key: key,
      } : null;
      root.setAttribute("data-moment", moment ? String(moment.raised) : "");
      showFigures();
    },
    formatMoney: formatMoney,
    connected: function () { return !!socket && socket.readyState === WebSocket.OPEN && admittedHere; },
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
