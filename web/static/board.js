// The status board refreshes its machine tiles once a second from one shared JSON snapshot.
(function () {
  "use strict";
  var board = document.getElementById("board");
  if (!board) { return; }
  function tick() {
    fetch(board.dataset.liveUrl, {headers: {"Accept": "text/html"}})
      .then(function (r) { return r.ok ? r.text() : null; })
      .then(function (html) {
        if (html !== null) { board.innerHTML = html; }
        setTimeout(tick, 1000);
      })
      .catch(function () { setTimeout(tick, 3000); });
  }
  setTimeout(tick, 1000);
})();
