// Keep a job's progress block current without a reload: poll its small JSON once a second.
(function () {
  "use strict";
  var box = document.getElementById("live");
  if (!box) { return; }
  var names = JSON.parse(document.getElementById("state").dataset.names || "{}");
  function text(id, value) { document.getElementById(id).textContent = value; }
  function show(data) {
    document.getElementById("progress").value = data.percent;
    text("percent", data.percent + " %");
    text("state", names[data.state] || data.state);
    text("elapsed", data.elapsed);
    text("remaining", data.remaining);
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
  function tick() {
    fetch(box.dataset.liveUrl, {headers: {"Accept": "application/json"}, credentials: "same-origin"})
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (data) {
        if (data && show(data)) { return; }
        setTimeout(tick, 1000);
      })
      .catch(function () { setTimeout(tick, 3000); });
  }
  setTimeout(tick, 1000);
})();
