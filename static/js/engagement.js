// The room on the event page (templates/liveroom/engagement_panel.html): the ask staff pinned,
// reactions, "on screen now", the poll (vote once; results for voters, or for all once staff
// reveal them), questions and upvotes.
//
// - State comes with the live room's snapshots (their "room", liveroom.js's onSnapshot); what
//   this attendee says goes through the live room's socket (liveroom.js's send) and is answered
//   by one frame, an ack or an error with a sentence (liveroom/inbound.py), matched by "ref".
// - Who takes part is the browser's signed cookie, so the page starts from what this attendee
//   already did (#room-config's "mine"); a reconnect or another tab changes nothing.
// - Attendees' text is written with textContent, never as HTML. The live region
//   [data-room-announce] says what changes for everyone (the question on screen, a poll opened,
//   its results when they first show, its close; never each count); the status
//   lines under the form and the list say what happened to this attendee's own action.
// - Reactions: taps are summed and sent at most once a second (the live room's inbound rate
//   stays far off); every page gets the room's bursts (at most two a second) and floats a
//   capped number of emoji, this attendee's own at once (and not twice); with reduced motion
//   nothing moves: the last seconds' counts show as text instead.
// - API, for the donate panel: window.Pledgecast.room = {
//     ask()       the pinned ask {id, text, amount (minor units), tag}, or null
//     onAsk(fn)   fn(ask or null) now and whenever the pinned ask changes
//   }; "Give $27" under the ask brings the donate panel into view and dispatches "room:give"
//   on the document (detail: the ask). The donate panel pre-selects the amount and sends the
//   ask's tag with the gift (its part: not in this file).
(function () {
  "use strict";
  var root = document.querySelector("[data-room]");
  var configNode = document.getElementById("room-config");
  var live = window.Pledgecast && window.Pledgecast.liveroom;
  if (!root || !configNode || !live) return;
  var config = JSON.parse(configNode.textContent);

  var NOT_CONNECTED = "Not connected right now: try again in a moment.";
  var max = config.question_max_chars || 280;
  var upvoted = {};
  ((config.mine && config.mine.upvoted) || []).forEach(function (id) { upvoted[id] = true; });
  var voted = {};  // poll id → the option this participant chose
  var mineVoted = (config.mine && config.mine.voted) || {};
  Object.keys(mineVoted).forEach(function (id) { voted[id] = mineVoted[id]; });
  var sent = {};  // ref → {kind, …}: what each message waiting for its answer was
  var lastRef = 0;
  var room = null;
  var status = null;
  var onScreenId = null;

  function $(selector) { return root.querySelector(selector); }
  var announce = $("[data-room-announce]");
  var onScreen = $("[data-room-on-screen]");
  var onScreenText = $("[data-room-on-screen-text]");
  var form = $("[data-room-ask]");
  var question = $("[data-room-question]");
  var askButton = $("[data-room-ask-button]");
  var askStatus = $("[data-room-ask-status]");
  var count = $("[data-room-count]");
  var reason = $("[data-room-reason]");
  var list = $("[data-room-questions]");
  var empty = $("[data-room-empty]");
  var voteStatus = $("[data-room-vote-status]");
  var pollBox = $("[data-room-poll]");
  var pollForm = $("[data-room-vote]");
  var pollQuestion = $("[data-room-poll-question]");
  var pollOptions = $("[data-room-poll-options]");
  var pollResults = $("[data-room-poll-results]");
  var pollResultsQuestion = $("[data-room-poll-results-question]");
  var pollResultsList = $("[data-room-poll-results-list]");
  var pollNote = $("[data-room-poll-note]");
  var pollStatus = $("[data-room-poll-status]");
  var shownPoll = { id: null, status: null, options: "", results: false };

  function say(node, text) { if (node && node.textContent !== text) node.textContent = text; }
  function chars(text) { return Array.from(text).length; }  // as the server counts them

  function send(message, what) {
    lastRef += 1;
    message.ref = lastRef;
    if (!live.send(message)) return false;
    sent[lastRef] = what;
    return true;
  }

  // --- Asking ---------------------------------------------------------------------------------
  function showCount() {
    var left = max - chars(question.value);
    say(count, left >= 0 ? left + " characters left." : (-left) + " characters too many.");
  }
  function canAsk() {
    return config.may_take_part && (!room || room.asking) &&
      (status === null || status === "live" || status === "scheduled");
  }
  function showAsking() {
    var open = canAsk();
    question.disabled = !open;
    askButton.disabled = !open;
    var why = "";
    if (!config.may_take_part) why = config.reason;
    else if (status === "ended" || status === "cancelled") why = "The show has ended.";
    else if (room && !room.asking) why = "Questions are closed for now.";
    say(reason, why);
    reason.hidden = !why;
  }

  question.addEventListener("input", showCount);
  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var text = question.value.replace(/\s+/g, " ").trim();
    if (!text) { say(askStatus, "Type your question first."); question.focus(); return; }
    if (chars(text) > max) {
      say(askStatus, "Please keep your question to " + max + " characters.");
      question.focus();
      return;
    }
    if (!send({ type: "ask", text: text }, { kind: "ask" })) { say(askStatus, NOT_CONNECTED); return; }
    askButton.disabled = true;
    say(askStatus, "Sending your question…");
  });

  function asked(answer) {
    askButton.disabled = !canAsk();
    if (answer.type === "error") {
      say(askStatus, answer.message);  // the question stays in the box: nothing is lost
      question.setAttribute("aria-invalid", "true");
      question.focus();
      return;
    }
    question.removeAttribute("aria-invalid");
    question.value = "";
    showCount();
    say(askStatus, answer.status === "approved"
      ? "Your question is on the page."
      : "Thank you: staff will read your question before it shows on the page.");
  }

  // --- Questions and upvotes --------------------------------------------------------------------
  function votesText(n) { return n === 1 ? "1 upvote" : n + " upvotes"; }

  function item(q) {
    var li = document.createElement("li");
    li.className = "room-question";
    li.setAttribute("data-question", String(q.id));
    var button = document.createElement("button");
    button.type = "button";
    button.className = "room-upvote";
    button.setAttribute("data-upvote", String(q.id));
    var arrow = document.createElement("span");
    arrow.setAttribute("aria-hidden", "true");
    arrow.textContent = "▲ ";
    var label = document.createElement("span");
    label.className = "visually-hidden";
    label.textContent = "Upvote, ";
    var votes = document.createElement("span");
    votes.setAttribute("data-votes", "");
    button.append(arrow, label, votes);
    var text = document.createElement("span");
    text.className = "room-question-text";
    text.id = "room-question-" + q.id;
    button.setAttribute("aria-describedby", text.id);
    li.append(button, text);
    return li;
  }

  function fill(li, q) {
    var button = li.querySelector("[data-upvote]");
    var mine = !!upvoted[q.id];
    button.setAttribute("aria-pressed", mine ? "true" : "false");
    say(li.querySelector("[data-votes]"), votesText(q.votes));
    say(li.querySelector(".room-question-text"), String(q.text));  // text, never HTML
    li.classList.toggle("on-screen", !!(room.on_screen && room.on_screen.id === q.id));
  }

  function renderQuestions() {
    var questions = room.questions || [];
    empty.hidden = questions.length > 0;
    var existing = {};
    Array.prototype.forEach.call(list.children, function (li) {
      existing[li.getAttribute("data-question")] = li;
    });
    var same = list.children.length === questions.length && questions.every(function (q, i) {
      return list.children[i].getAttribute("data-question") === String(q.id);
    });
    if (!same) {
      // The order changed: rebuild, and give the focus back to the button it was on.
      var focused = document.activeElement && document.activeElement.getAttribute &&
        document.activeElement.getAttribute("data-upvote");
      list.replaceChildren.apply(list, questions.map(function (q) {
        return existing[String(q.id)] || item(q);
      }));
      if (focused) {
        var again = list.querySelector('[data-upvote="' + focused + '"]');
        if (again) again.focus();
      }
    }
    questions.forEach(function (q, i) { fill(list.children[i], q); });
  }

  list.addEventListener("click", function (event) {
    var button = event.target.closest("[data-upvote]");
    if (!button) return;
    var id = parseInt(button.getAttribute("data-upvote"), 10);
    if (upvoted[id]) { say(voteStatus, "You upvoted this question."); return; }
    if (!config.may_take_part) { say(voteStatus, config.reason); return; }
    if (!send({ type: "upvote", question: id }, { kind: "upvote", id: id })) {
      say(voteStatus, NOT_CONNECTED);
    }
  });

  function upvotedAnswer(answer, what) {
    if (answer.type === "ack" || answer.code === "already_upvoted") {
      upvoted[what.id] = true;
      if (room) renderQuestions();
    }
    say(voteStatus, answer.type === "ack" ? "Upvoted." : answer.message);
  }

  // --- The poll ----------------------------------------------------------------------------------
  function percent(votes, total) { return total > 0 ? Math.round(100 * votes / total) : 0; }

  function resultsText(poll) {
    return poll.options.map(function (o) {
      return o.text + " " + percent(o.votes, poll.total) + "%";
    }).join(", ");
  }

  function renderChoices(poll) {
    var key = poll.id + ":" + poll.options.map(function (o) { return o.id + "=" + o.text; }).join("|");
    if (shownPoll.options === key) return;  // keep the attendee's choice while counts move
    shownPoll.options = key;
    say(pollQuestion, String(poll.question));
    pollOptions.replaceChildren.apply(pollOptions, poll.options.map(function (o) {
      var label = document.createElement("label");
      label.className = "room-poll-option";
      var input = document.createElement("input");
      input.type = "radio";
      input.name = "option";
      input.value = String(o.id);
      var text = document.createElement("span");
      text.textContent = String(o.text);
      label.append(input, text);
      return label;
    }));
  }

  function renderResults(poll) {
    say(pollResultsQuestion, String(poll.question));
    var mine = voted[poll.id];
    var items = poll.options.map(function (o) {
      var li = document.createElement("li");
      li.className = "room-result" + (mine === o.id ? " mine" : "");
      var row = document.createElement("span");
      row.className = "room-result-row";
      var text = document.createElement("span");
      text.textContent = String(o.text) + (mine === o.id ? " (your vote)" : "");
      var figure = document.createElement("span");
      figure.className = "room-result-figure";
      figure.textContent = percent(o.votes, poll.total) + "% · " +
        (o.votes === 1 ? "1 vote" : o.votes + " votes");
      row.append(text, figure);
      var bar = document.createElement("span");
      bar.className = "room-result-bar";
      bar.setAttribute("aria-hidden", "true");
      var fill = document.createElement("span");
      fill.style.width = percent(o.votes, poll.total) + "%";
      bar.appendChild(fill);
      li.append(row, bar);
      return li;
    });
    pollResultsList.replaceChildren.apply(pollResultsList, items);
  }

  function renderPoll() {
    var poll = room.poll;
    pollBox.hidden = !poll;
    if (!poll) { shownPoll = { id: null, status: null, options: "", results: false }; return; }
    var fresh = poll.id !== shownPoll.id;
    var mine = voted[poll.id];
    var open = poll.status === "open";
    var canVote = open && mine === undefined && config.may_take_part;
    var showResults = mine !== undefined || poll.revealed;
    pollForm.hidden = !canVote;
    if (canVote) renderChoices(poll);
    pollResults.hidden = !showResults;
    if (showResults) renderResults(poll);
    var note = "";
    if (!open) note = showResults ? "This poll is closed." :
      "This poll is closed. Its results have not been shared.";
    else if (mine === undefined && !config.may_take_part) note = config.reason;
    else if (!showResults) note = "Results show once you vote.";
    say(pollNote, note);
    // Said once: a new poll, its results when they first show, its close.
    var spoken = [];
    if (fresh && open) spoken.push("New poll: " + poll.question);
    if (!open && (fresh || shownPoll.status === "open")) spoken.push("The poll is closed.");
    if (showResults && (fresh || !shownPoll.results || (!open && shownPoll.status === "open"))) {
      spoken.push("Results: " + resultsText(poll) + ".");
    }
    if (spoken.length) say(announce, spoken.join(" "));
    shownPoll.id = poll.id;
    shownPoll.status = poll.status;
    shownPoll.results = showResults;
  }

  pollForm.addEventListener("submit", function (event) {
    event.preventDefault();
    var poll = room && room.poll;
    var chosen = pollForm.querySelector('input[name="option"]:checked');
    if (!poll || !chosen) { say(pollStatus, "Choose an answer first."); return; }
    var option = parseInt(chosen.value, 10);
    if (!send({ type: "vote", poll: poll.id, option: option },
              { kind: "vote", poll: poll.id, option: option })) {
      say(pollStatus, NOT_CONNECTED);
      return;
    }
    $("[data-room-vote-button]").disabled = true;
    say(pollStatus, "Sending your vote…");
  });

  function votedAnswer(answer, what) {
    $("[data-room-vote-button]").disabled = false;
    if (answer.type === "ack" || answer.code === "already_voted") {
      if (voted[what.poll] === undefined) voted[what.poll] = what.option;
    }
    say(pollStatus, answer.type === "ack" ? "Thank you for voting." : answer.message);
    if (room) renderPoll();
  }

  // --- Reactions ---------------------------------------------------------------------------------
  var EMOJI = {};
  (config.reactions || []).forEach(function (r) { EMOJI[r.name] = r.emoji; });
  var REACTION_MAX = config.reaction_max || 10;
  var SEND_EVERY_MS = 1000;
  var MAX_FLOATING = 16;    // on screen at once
  var FLOAT_MS = 2600;      // engagement.css's animation
  var TALLY_WINDOW_MS = 10000;
  var reducedMotion = window.matchMedia &&
    window.matchMedia("(prefers-reduced-motion: reduce)").matches;
  var floats = $("[data-room-floats]");
  var tally = $("[data-room-react-tally]");
  var taps = {};
  var tapTimer = 0;
  var lastSent = 0;
  var own = {};          // sent by this page, not yet seen back in a burst
  var ownSince = 0;
  var recent = [];       // [time, name, n] of the last seconds, for the reduced-motion tally
  var seenFromOthers = 0;

  function float(name) {
    if (reducedMotion || !EMOJI[name] || floats.childElementCount >= MAX_FLOATING) return;
    var node = document.createElement("span");
    node.className = "room-float";
    node.textContent = EMOJI[name];
    node.style.left = Math.round(Math.random() * 70) + "%";
    node.style.animationDuration = (FLOAT_MS - 400 + Math.random() * 800) + "ms";
    node.addEventListener("animationend", function () { node.remove(); });
    floats.appendChild(node);
    setTimeout(function () { node.remove(); }, FLOAT_MS + 1000);  // animation never ran
  }

  function showTally() {
    if (!reducedMotion) return;
    var now = Date.now();
    recent = recent.filter(function (r) { return now - r[0] < TALLY_WINDOW_MS; });
    var sums = {};
    recent.forEach(function (r) { sums[r[1]] = (sums[r[1]] || 0) + r[2]; });
    say(tally, Object.keys(EMOJI).filter(function (name) { return sums[name]; })
      .map(function (name) { return EMOJI[name] + " " + sums[name]; }).join("  "));
  }

  function sendTaps() {
    tapTimer = 0;
    var names = Object.keys(taps);
    if (!names.length) return;
    if (live.send({ type: "react", counts: taps })) {
      names.forEach(function (name) { own[name] = (own[name] || 0) + taps[name]; });
      ownSince = Date.now();
    }
    taps = {};
    lastSent = Date.now();
  }

  root.addEventListener("click", function (event) {
    var button = event.target.closest("[data-react]");
    if (!button || !config.may_take_part) return;
    var name = button.getAttribute("data-react");
    if ((taps[name] || 0) >= REACTION_MAX) return;  // a second's worth is plenty
    taps[name] = (taps[name] || 0) + 1;
    float(name);
    recent.push([Date.now(), name, 1]);
    showTally();
    if (!tapTimer) tapTimer = setTimeout(sendTaps, Math.max(0, lastSent + SEND_EVERY_MS - Date.now()));
  });

  function burst(counts) {
    if (Date.now() - ownSince > 5000) own = {};  // never seen back (a lost flush): forget it
    var delay = 0;
    Object.keys(counts).forEach(function (name) {
      if (!EMOJI[name] || typeof counts[name] !== "number") return;
      var mine = Math.min(own[name] || 0, counts[name]);
      own[name] = (own[name] || 0) - mine;
      var others = counts[name] - mine;
      if (others <= 0) return;
      seenFromOthers += others;
      recent.push([Date.now(), name, others]);
      for (var i = 0; i < Math.min(others, MAX_FLOATING); i += 1) {
        setTimeout(float, delay, name);  // spread over the half second until the next burst
        delay += 450 / MAX_FLOATING;
      }
    });
    root.setAttribute("data-reactions-seen", String(seenFromOthers));
    showTally();
  }
  if (reducedMotion) setInterval(showTally, 2000);  // the counts of the last seconds fade out

  // --- The pinned ask ----------------------------------------------------------------------------
  var askBox = $("[data-room-pinned-ask]");
  var askText = $("[data-room-pinned-ask-text]");
  var giveButton = $("[data-room-give]");
  var liveRoot = document.querySelector("[data-live-room]");
  var currency = ((liveRoot && liveRoot.getAttribute("data-currency")) || "usd").toUpperCase();
  var money = new Intl.NumberFormat(undefined, { style: "currency", currency: currency });
  var wholeMoney = new Intl.NumberFormat(undefined, {
    style: "currency", currency: currency, minimumFractionDigits: 0, maximumFractionDigits: 0,
  });
  var pinnedAsk = null;
  var askListeners = [];

  function formatMoney(minor) {
    return minor % 100 === 0 ? wholeMoney.format(minor / 100) : money.format(minor / 100);
  }

  function renderAsk() {
    var ask = room.ask || null;
    var same = (ask && pinnedAsk) ? ask.id === pinnedAsk.id && ask.text === pinnedAsk.text &&
      ask.amount === pinnedAsk.amount && ask.tag === pinnedAsk.tag : ask === pinnedAsk;
    if (same) return;
    pinnedAsk = ask;
    askBox.hidden = !ask;
    if (ask) {
      say(askText, String(ask.text));
      say(giveButton, "Give " + formatMoney(ask.amount));
      say(announce, "Staff ask: " + ask.text);
    }
    askListeners.forEach(function (fn) { try { fn(ask); } catch (e) { /* a listener's bug */ } });
  }

  giveButton.addEventListener("click", function () {
    if (!pinnedAsk) return;
    var panel = document.querySelector("[data-donate]");
    if (panel) panel.scrollIntoView({ block: "start", behavior: reducedMotion ? "auto" : "smooth" });
    document.dispatchEvent(new CustomEvent("room:give", { detail: pinnedAsk }));
  });

  window.Pledgecast = window.Pledgecast || {};
  window.Pledgecast.room = {
    ask: function () { return pinnedAsk; },
    onAsk: function (fn) { askListeners.push(fn); fn(pinnedAsk); },
  };

  // --- On screen now ----------------------------------------------------------------------------
  function renderOnScreen() {
    var pinned = room.on_screen;
    onScreen.hidden = !pinned;
    if (!pinned) { onScreenId = null; return; }
    var text = String(pinned.text);
    if (pinned.id !== onScreenId || onScreenText.textContent !== text) {
      onScreenId = pinned.id;
      onScreenText.textContent = text;
      say(announce, "On screen now: " + text);
    }
  }

  // --- Wiring -----------------------------------------------------------------------------------
  live.onMessage(function (message) {
    if (message.type === "reactions" && message.counts) { burst(message.counts); return; }
    if (message.type !== "ack" && message.type !== "error") return;
    var what = sent[message.ref];
    if (!what) return;
    delete sent[message.ref];
    if (what.kind === "ask") asked(message);
    else if (what.kind === "upvote") upvotedAnswer(message, what);
    else if (what.kind === "vote") votedAnswer(message, what);
  });

  live.onSnapshot(function (snapshot) {
    status = snapshot.status || status;
    if (snapshot.room) {
      room = snapshot.room;
      renderAsk();
      renderOnScreen();
      renderPoll();
      renderQuestions();
    }
    showAsking();
  });

  // Answers of a socket that is gone never come: the buttons work again.
  // The attendee may send it again once the next socket is in.
  document.querySelector("[data-live-room]").addEventListener("liveroom:closed", function () {
    Object.keys(sent).forEach(function (ref) {
      var what = sent[ref];
      if (what.kind === "ask") { askButton.disabled = !canAsk(); say(askStatus, NOT_CONNECTED); }
      if (what.kind === "vote") { $("[data-room-vote-button]").disabled = false; say(pollStatus, NOT_CONNECTED); }
      if (what.kind === "upvote") say(voteStatus, NOT_CONNECTED);
    });
    sent = {};
  });

  showCount();
  showAsking();
})();
