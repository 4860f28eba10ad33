// The staff's live dashboard (events/dashboard.py): refreshes its panels every few seconds by
// fetching the same page's ?fragment=1 (HTML rendered and escaped by Django) and swapping
// the panels' container. Pauses while the tab is hidden; says when the last update came and
// when the connection is lost. The browser's time zone goes to the server in a cookie.
(function () {
  "use strict";
  var panels = document.getElementById("dashboard-panels");
  var status = document.getElementById("dashboard-status");
  var alert = document.getElementById("dashboard-alert"); // announced to screen readers
  if (!panels || !status) return;

  var url = panels.getAttribute("data-fragment-url");
  var interval = parseInt(panels.getAttribute("data-interval-ms"), 10) || 5000;
  var timer = null;
  var inFlight = false;
  var zone = "";

  try {
    zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
    if (/^[A-Za-z0-9_+\/-]{1,64}$/.test(zone)) {
      document.cookie = "pc_tz=" + zone + "; path=/staff/; max-age=31536000; SameSite=Lax";
    } else {
      zone = "";
    }
  } catch (e) { /* no Intl: the server shows UTC */ }

  function pad(n) { return (n < 10 ? "0" : "") + n; }
  function clock(d) { return pad(d.getHours()) + ":" + pad(d.getMinutes()) + ":" + pad(d.getSeconds()); }

  var wasLost = false;

  function show(text, lost) {
    status.textContent = text;
    status.classList.toggle("lost", !!lost);
    // Only the changes between connected and lost are announced, not every update.
    if (alert && lost !== wasLost) alert.textContent = lost ? text : "connection back";
    wasLost = lost;
  }

  function schedule(delay) {
    clearTimeout(timer);
    timer = setTimeout(refresh, delay);
  }

  function refresh() {
    if (document.visibilityState === "hidden") return; // resumes on visibilitychange
    if (inFlight) return;
    inFlight = true;
    var controller = "AbortController" in window ? new AbortController() : null;
    var abort = controller ? setTimeout(function () { controller.abort(); }, interval) : null;
    fetch(url, {
      credentials: "same-origin",
      cache: "no-store",
      headers: { "X-Requested-With": "XMLHttpRequest" },
      signal: controller ? controller.signal : undefined,
    }).then(function (response) {
      if (response.ok && response.headers.get("X-Dashboard-Fragment") === "1") {
        return response.text();
      }
      if (response.redirected || response.status === 403) {
        throw new Error("signed out");
      }
      throw new Error("HTTP " + response.status);
    }).then(function (html) {
      panels.innerHTML = html; // Django rendered it with autoescaping: donor names are text
      show("updated " + clock(new Date()), false);
    }).catch(function (error) {
      if (error && error.message === "signed out") {
        show("signed out: reload the page to sign in again", true);
      } else {
        show("connection lost, retrying", true);
      }
    }).then(function () {
      clearTimeout(abort);
      inFlight = false;
      schedule(interval);
    });
  }

  document.addEventListener("visibilitychange", function () {
    if (document.visibilityState === "visible") {
      schedule(0);
    } else {
      clearTimeout(timer);
    }
  });

  // The first visit renders in UTC (the cookie was not there yet): refresh at once then.
  schedule(zone && status.getAttribute("data-zone") !== zone ? 0 : interval);
})();
