// Poll a live view without reloading: conditional requests (If-None-Match; the hub answers
// an empty 304 while nothing changed), once a second while the tab is visible, every 10 s
// while it is hidden, backing off after failures and showing the page's "connection lost"
// mark (#connection-lost) until an answer comes again. onData returns true to stop.
window.fabhubPoll = function (url, accept, onData) {
  "use strict";
  var etag = null, failures = 0, timer = null, busy = false, stopped = false;
  var lost = document.getElementById("connection-lost");
  function delay() {
    if (failures) { return Math.min(1000 * Math.pow(2, failures), 10000); }
    return document.visibilityState === "hidden" ? 10000 : 1000;
  }
  function later() {
    clearTimeout(timer);
    if (!stopped) { timer = setTimeout(tick, delay()); }
  }
  function tick() {
    if (busy || stopped) { return; }
    busy = true;
    var headers = {"Accept": accept};
    if (etag) { headers["If-None-Match"] = etag; }
    fetch(url, {headers: headers, credentials: "same-origin", cache: "no-store"})
      .then(function (r) {
        if (r.status === 304) { return null; }
        if (!r.ok) { throw new Error("HTTP " + r.status); }
        etag = r.headers.get("ETag");
        return accept === "application/json" ? r.json() : r.text();
      })
      .then(function (data) {
        busy = false;
        failures = 0;
        if (lost) { lost.hidden = true; }
        if (data !== null && onData(data) === true) { stopped = true; }
        later();
      })
      .catch(function () {
        busy = false;
        failures += 1;
        if (lost && failures >= 2) { lost.hidden = false; }
        later();
      });
  }
  document.addEventListener("visibilitychange", function () {
    if (document.visibilityState === "visible" && !failures) { tick(); }
  });
  later();
};

// Durations as the hub writes them: "2 h 05 min", "4 min 10 s", "12 s".
window.fabhubDuration = function (seconds) {
  "use strict";
  var total = Math.max(0, Math.round(seconds));
  var hours = Math.floor(total / 3600), minutes = Math.floor(total % 3600 / 60), secs = total % 60;
  function two(n) { return (n < 10 ? "0" : "") + n; }
  if (hours) { return hours + " h " + two(minutes) + " min"; }
  if (minutes) { return minutes + " min " + two(secs) + " s"; }
  return secs + " s";
};
