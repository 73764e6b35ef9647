/*
 * The project setup page: turn "waiting for the first event…" green when the
 * project receives one. Polls the element's data-status-url (same origin,
 * cookies) every two seconds until it answers {"received": true}.
 */
(function () {
  "use strict";
  var box = document.getElementById("first-event");
  if (!box || box.dataset.received === "true") return;
  var url = box.dataset.statusUrl;
  function check() {
    fetch(url, { credentials: "same-origin", cache: "no-store" })
      .then(function (answer) { return answer.ok ? answer.json() : null; })
      .then(function (status) {
        if (status && status.received) {
          box.dataset.received = "true";
          box.classList.add("received");
          var text = box.querySelector(".first-event-text");
          if (text) text.textContent = "First event received.";
          var link = box.querySelector(".first-event-link");
          if (link) link.hidden = false;
        } else {
          setTimeout(check, 2000);
        }
      })
      .catch(function () { setTimeout(check, 5000); });
  }
  setTimeout(check, 1000);
})();
