// Shows event times in the viewer's own time zone and counts down to the start.
(function () {
  "use strict";
  var fmt = new Intl.DateTimeFormat(undefined, {
    weekday: "long", month: "long", day: "numeric", year: "numeric",
    hour: "numeric", minute: "2-digit", timeZoneName: "short",
  });
  document.querySelectorAll("time.local-time").forEach(function (el) {
    var when = new Date(el.getAttribute("datetime"));
    if (!isNaN(when)) el.textContent = fmt.format(when);
  });

  function plural(n, word) { return n + " " + word + (n === 1 ? "" : "s"); }

  document.querySelectorAll("[data-countdown]").forEach(function (el) {
    var start = new Date(el.getAttribute("data-countdown")).getTime();
    if (isNaN(start)) return;
    function tick() {
      var left = Math.max(0, Math.floor((start - Date.now()) / 1000));
      if (left === 0) {
        el.textContent = "Starting any moment now…";
        return;
      }
      var d = Math.floor(left / 86400), h = Math.floor(left % 86400 / 3600);
      var m = Math.floor(left % 3600 / 60), s = left % 60;
      var parts = [];
      if (d) parts.push(plural(d, "day"));
      if (d || h) parts.push(plural(h, "hour"));
      parts.push(plural(m, "minute"));
      if (!d) parts.push(plural(s, "second"));
      el.textContent = "Starts in " + parts.join(", ");
      setTimeout(tick, 1000 - (Date.now() % 1000));
    }
    tick();
  });
})();
