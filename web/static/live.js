// Keep a job's progress block current without a reload (see poll.js); between updates the
// elapsed and remaining times of a running job advance here.
(function () {
  "use strict";
  var box = document.getElementById("live");
  if (!box) { return; }
  var names = JSON.parse(document.getElementById("state").dataset.names || "{}");
  var clock = null;
  function text(id, value) { document.getElementById(id).textContent = value; }
  function show(data) {
    document.getElementById("progress").value = data.percent;
    text("percent", data.percent + " %");
    text("state", names[data.state] || data.state);
    text("elapsed", data.elapsed);
    text("remaining", data.remaining);
    clock = data.ticking ? {elapsed: data.elapsed_s, remaining: data.remaining_s} : null;
    var machine = data.machine || "—";
    if (data.machine_state) { machine += " (" + (names[data.machine_state] || data.machine_state) + ")"; }
    text("machine", machine);
    var parts = Object.keys(data.telemetry).map(function (k) { return k + ": " + data.telemetry[k]; });
    text("telemetry", parts.length ? parts.join(" ") : "—");
    var cancel = document.getElementById("cancel");
    if (cancel && !data.cancellable) { cancel.hidden = true; }
    var commands = document.getElementById("commands");
    if (commands && data.done) { commands.hidden = true; }
    return data.done;
  }
  window.fabhubPoll(box.dataset.liveUrl, "application/json", show);
  setInterval(function () {
    if (!clock) { return; }
    if (clock.elapsed !== null) { clock.elapsed += 1; text("elapsed", window.fabhubDuration(clock.elapsed)); }
    if (clock.remaining !== null) {
      clock.remaining = Math.max(clock.remaining - 1, 0);
      text("remaining", window.fabhubDuration(clock.remaining));
    }
  }, 1000);
})();
