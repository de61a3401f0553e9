// The status board refreshes its machine tiles from one shared snapshot (see poll.js), and
// counts the running jobs' remaining time down between updates.
(function () {
  "use strict";
  var board = document.getElementById("board");
  if (!board) { return; }
  window.fabhubPoll(board.dataset.liveUrl, "text/html", function (html) {
    board.innerHTML = html;
  });
  setInterval(function () {
    board.querySelectorAll(".eta[data-remaining-s]").forEach(function (eta) {
      var left = Math.max(Number(eta.dataset.remainingS) - 1, 0);
      eta.dataset.remainingS = left;
      eta.textContent = window.fabhubDuration(left);
    });
  }, 1000);
})();
