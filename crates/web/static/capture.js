// Postie capture mode's live updates (crates/web/src/capture/ui.rs): the server sends
// `event: change` on /events each time mail is captured or deleted; the list page
// reloads itself (keeping its query: inbox, search, page). The message page does
// nothing. EventSource reconnects by itself when the server ends the stream.
(function () {
  "use strict";
  if (!window.EventSource) { return; }
  var list = document.querySelector("[data-live-list]");
  var status = document.getElementById("live");
  var source = new EventSource("/events");
  var first = null;
  source.addEventListener("open", function () {
    if (status) { status.textContent = "live"; }
  });
  source.addEventListener("error", function () {
    if (status) { status.textContent = "reconnecting…"; }
  });
  source.addEventListener("change", function (e) {
    // The first event after (re)connecting states the counter as it is: reload only
    // when it differs from the one the page was rendered with.
    var rendered = list ? list.getAttribute("data-counter") : null;
    if (first === null) {
      first = e.data;
      if (rendered === null || rendered === e.data) { return; }
    }
    if (list) { window.location.reload(); }
  });
})();
