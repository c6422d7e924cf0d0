// Postie capture mode's live updates (crates/web/src/capture/ui.rs): the server sends
// `event: change` with its counter on /events when the stream opens and each time mail
// is captured or deleted; the list page reloads itself (keeping its query: inbox,
// search, page) when the counter differs from the one it was rendered at. The message
// page only shows the connection's state. EventSource reconnects by itself when the
// server ends the stream (every 55 s).
(function () {
  "use strict";
  if (!window.EventSource) { return; }
  var main = document.querySelector("main");
  var status = document.getElementById("live");
  var list = main && main.hasAttribute("data-live-list");
  var seen = main ? main.getAttribute("data-counter") : null;
  var source = new EventSource("/events");
  source.addEventListener("open", function () {
    if (status) { status.textContent = "live"; }
  });
  source.addEventListener("error", function () {
    if (status) { status.textContent = "reconnecting…"; }
  });
  source.addEventListener("change", function (e) {
    if (e.data === seen) { return; }
    seen = e.data;
    if (list) { window.location.reload(); }
  });
})();
