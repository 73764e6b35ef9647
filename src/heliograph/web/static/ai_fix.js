// "Suggest a fix": stream the model's markdown into the issue page.
//
// On load it asks for the cached answer only (cached=1: the server never calls
// the provider for it, and answers 204 when nothing is cached), so an answer
// someone already paid for shows again after a reload.
//
// The endpoint answers Server-Sent Events (delta, done, error). The markdown
// is rendered by a small renderer that escapes every character of the input
// first, so model output can never inject markup: a <script> in the answer
// shows as text.
(function () {
  "use strict";

  var panel = document.getElementById("ai-fix");
  if (!panel) return;
  var form = panel.querySelector("[data-ai-fix-form]");
  var output = panel.querySelector("[data-ai-fix-output]");
  var status = panel.querySelector("[data-ai-fix-status]");
  var refresh = panel.querySelector("[data-ai-fix-refresh]");
  if (!form) return;
  var button = form.querySelector("[data-ai-fix-button]");

  // One button at a time: "Suggest a fix" before there is an answer, "Ask again" after.
  function answered(yes) {
    button.hidden = yes;
    refresh.hidden = !yes;
  }

  function escapeHtml(text) {
    return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;")
      .replace(/"/g, "&quot;").replace(/'/g, "&#39;");
  }

  // Inline markdown on already-escaped text: code, bold, italics, links.
  function inline(text) {
    var codes = [];
    text = text.replace(/`([^`]+)`/g, function (_, code) {
      codes.push("<code>" + code + "</code>");
      return "\u0000" + (codes.length - 1) + "\u0000";
    });
    text = text.replace(/\*\*([^*]+)\*\*/g, "<strong>$1</strong>")
      .replace(/(^|[^*])\*([^*\s][^*]*)\*/g, "$1<em>$2</em>")
      .replace(/\[([^\]]+)\]\((https?:\/\/[^\s)]+)\)/g,
        '<a href="$2" rel="noopener noreferrer nofollow">$1</a>');
    return text.replace(/\u0000(\d+)\u0000/g, function (_, i) { return codes[+i]; });
  }

  function renderMarkdown(source) {
    var lines = escapeHtml(source).split("\n");
    var html = [];
    var list = null;
    var paragraph = [];
    var fence = null;
    function flushParagraph() {
      if (paragraph.length) html.push("<p>" + inline(paragraph.join(" ")) + "</p>");
      paragraph = [];
    }
    function closeList() {
      if (list) html.push("</" + list + ">");
      list = null;
    }
    lines.forEach(function (line) {
      if (fence !== null) {
        if (/^\s*```/.test(line)) { html.push("<pre><code>" + fence.join("\n") + "</code></pre>"); fence = null; }
        else fence.push(line);
        return;
      }
      var m;
      if (/^\s*```/.test(line)) { flushParagraph(); closeList(); fence = []; return; }
      if ((m = /^(#{1,6})\s+(.*)$/.exec(line))) {
        flushParagraph(); closeList();
        var level = Math.min(m[1].length + 2, 6);
        html.push("<h" + level + ">" + inline(m[2]) + "</h" + level + ">");
        return;
      }
      if ((m = /^\s*(?:[-*+]|(\d+)\.)\s+(.*)$/.exec(line))) {
        flushParagraph();
        var kind = m[1] ? "ol" : "ul";
        if (list !== kind) { closeList(); html.push("<" + kind + ">"); list = kind; }
        html.push("<li>" + inline(m[2]) + "</li>");
        return;
      }
      if (!line.trim()) { flushParagraph(); closeList(); return; }
      paragraph.push(line.trim());
    });
    if (fence !== null) html.push("<pre><code>" + fence.join("\n") + "</code></pre>");
    flushParagraph(); closeList();
    return html.join("\n");
  }

  function query(extra) {
    var params = new URLSearchParams({ stream: "1" });
    if (extra === "cached") {
      params.set("cached", "1");
      return panel.dataset.aiFixUrl + "?" + params.toString();
    }
    form.querySelectorAll("input[type=checkbox]:checked").forEach(function (box) {
      params.set(box.name, box.value);
    });
    if (extra) params.set(extra, "1");
    return panel.dataset.aiFixUrl + "?" + params.toString();
  }

  function describeDone(done) {
    return done.model + " · " + (done.cached ? "cached" : "fresh") + " · " +
      done.input_tokens + " in / " + done.output_tokens + " out tokens · " +
      done.elapsed_seconds.toFixed(1) + " s";
  }

  function handle(eventName, data, state) {
    if (eventName === "delta") {
      state.text += data.text;
      output.innerHTML = renderMarkdown(state.text);
    } else if (eventName === "done") {
      status.textContent = describeDone(data);
      panel.dataset.aiFixDone = data.cached ? "cached" : "fresh";
      answered(true);
    } else if (eventName === "error") {
      status.textContent = "The model failed: " + (data.detail || "unknown error");
    }
  }

  function run(extra) {
    var quiet = extra === "cached"; // the look-up on load: no "Asking…", no error shown
    button.disabled = refresh.disabled = true;
    if (!quiet) {
      output.innerHTML = "";
      status.textContent = "Asking the model…";
      delete panel.dataset.aiFixDone;
    }
    var state = { text: "" };
    fetch(query(extra), { headers: { Accept: "text/event-stream" }, credentials: "same-origin" })
      .then(function (response) {
        if (quiet && (response.status === 204 || !response.ok)) {
          panel.dataset.aiFixDone = "none"; // nothing cached (or not allowed): keep "Suggest a fix"
          return;
        }
        if (!response.ok) {
          return response.json().then(function (body) {
            status.textContent = body.restriction
              ? "Refused by the project's AI policy (" + body.restriction + ")."
              : (body.detail || ("HTTP " + response.status));
          });
        }
        var reader = response.body.getReader();
        var decoder = new TextDecoder();
        var buffer = "";
        function pump() {
          return reader.read().then(function (chunk) {
            if (chunk.done) return;
            buffer += decoder.decode(chunk.value, { stream: true });
            var blocks = buffer.split("\n\n");
            buffer = blocks.pop();
            blocks.forEach(function (block) {
              var name = "message", data = "";
              block.split("\n").forEach(function (line) {
                if (line.indexOf("event: ") === 0) name = line.slice(7);
                else if (line.indexOf("data: ") === 0) data += line.slice(6);
              });
              if (data) handle(name, JSON.parse(data), state);
            });
            return pump();
          });
        }
        return pump();
      })
      .catch(function (error) { if (!quiet) status.textContent = "Request failed: " + error; })
      .then(function () { button.disabled = refresh.disabled = false; });
  }

  // Both buttons submit the form, so a required consent box is checked for either.
  form.addEventListener("submit", function (event) {
    event.preventDefault();
    run(event.submitter === refresh ? "refresh" : null);
  });
  // The policy applies to cached answers too: only look without asking when nothing is to be asked.
  if (panel.dataset.aiPolicy === "allowed") run("cached");
})();
