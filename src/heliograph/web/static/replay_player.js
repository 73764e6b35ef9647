/*
 * Heliograph session replay player: rrweb's Replayer with our controls.
 *
 * Contract with the page (the replay template):
 *
 *   <link rel="stylesheet" href="/static/vendor/rrweb.css">
 *   <link rel="stylesheet" href="/static/replay.css">
 *   <script src="/static/vendor/rrweb.min.js" defer></script>
 *   <script src="/static/replay_player.js" defer></script>
 *   <div id="replay-player" data-events-url="/…/events.json"></div>
 *   <button type="button" data-replay-seek="1500">0:01 error</button>   (optional, anywhere)
 *
 * - data-events-url answers a JSON array of rrweb events (sorted by timestamp
 *   here too, in case). The request carries the page's cookies (same origin).
 * - The player fills #replay-player with a stage and controls: play/pause, a
 *   scrubber with current / total time, speed 1x/2x/4x/8x, skip inactivity.
 * - Any element with data-replay-seek="<ms from the start>" seeks there when
 *   clicked (playing on if it was playing, else paused on that frame).
 * - #replay-player gets data-state: loading, paused, playing, finished,
 *   empty (fewer than two events), error. The events replay:ready (detail:
 *   {totalTime}) and replay:error (detail: {message}) are dispatched on it.
 * - element.heliographReplay = {play(), pause(), seek(ms), setSpeed(n),
 *   setSkipInactive(bool), currentTime(), totalTime(), replayer} for scripts
 *   and tests.
 *
 * CSP: the page must be served with replay_policy (web/security.py): rrweb
 * rebuilds the recorded page in an about:blank iframe that inherits this
 * page's policy, and the recorded DOM needs inline styles. Scripts stay
 * blocked: rrweb sandboxes that iframe without allow-scripts, and we never
 * ask it for UNSAFE_replayCanvas. This file itself uses no inline style
 * attributes; sizes are set through the CSSOM, which CSP allows.
 */
(function () {
  "use strict";

  var SPEEDS = [1, 2, 4, 8];

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function clock(ms) {
    var seconds = Math.max(0, Math.floor(ms / 1000));
    var h = Math.floor(seconds / 3600), m = Math.floor((seconds % 3600) / 60), s = seconds % 60;
    var mm = h ? (m < 10 ? "0" : "") + m : String(m);
    return (h ? h + ":" : "") + mm + ":" + (s < 10 ? "0" : "") + s;
  }

  function fail(root, message) {
    root.dataset.state = "error";
    root.textContent = "";
    root.appendChild(el("p", "replay-message replay-error", message));
    root.dispatchEvent(new CustomEvent("replay:error", { detail: { message: message } }));
  }

  function controls(root) {
    var bar = el("div", "replay-controls");
    var play = el("button", "btn btn-sm replay-play", "Play");
    play.type = "button";
    play.setAttribute("aria-label", "Play");
    var scrubber = el("input", "replay-scrubber");
    scrubber.type = "range";
    scrubber.min = "0";
    scrubber.step = "1";
    scrubber.value = "0";
    scrubber.setAttribute("aria-label", "Position in the recording");
    var time = el("span", "replay-time", "0:00 / 0:00");
    time.setAttribute("aria-live", "off");
    var speeds = el("div", "replay-speeds");
    speeds.setAttribute("role", "group");
    speeds.setAttribute("aria-label", "Playback speed");
    SPEEDS.forEach(function (speed) {
      var button = el("button", "btn btn-sm replay-speed", speed + "x");
      button.type = "button";
      button.dataset.speed = String(speed);
      button.setAttribute("aria-pressed", speed === 1 ? "true" : "false");
      speeds.appendChild(button);
    });
    var skipLabel = el("label", "replay-skip");
    var skip = el("input");
    skip.type = "checkbox";
    skip.checked = true;
    skipLabel.appendChild(skip);
    skipLabel.appendChild(document.createTextNode(" Skip inactivity"));
    [play, scrubber, time, speeds, skipLabel].forEach(function (node) { bar.appendChild(node); });
    return { bar: bar, play: play, scrubber: scrubber, time: time, speeds: speeds, skip: skip };
  }

  function mount(root, events) {
    events = events.slice().sort(function (a, b) { return a.timestamp - b.timestamp; });
    root.textContent = "";
    if (events.length < 2) {
      root.dataset.state = "empty";
      root.appendChild(el("p", "replay-message", "This recording has nothing to play yet."));
      return;
    }
    var stage = el("div", "replay-stage");
    var ui = controls(root);
    root.appendChild(stage);
    root.appendChild(ui.bar);

    var replayer = new window.rrweb.Replayer(events, {
      root: stage,
      skipInactive: true,
      showWarning: false, // a node missing from a partial recording is normal, not a page error
      mouseTail: false,
      triggerFocus: false,
      UNSAFE_replayCanvas: false // would need allow-scripts in the iframe's sandbox
    });
    var total = replayer.getMetaData().totalTime;
    var speed = 1;
    var playing = false;
    var dragging = false;
    var frame = null;
    ui.scrubber.max = String(total);

    function show(at) {
      at = Math.max(0, Math.min(total, at));
      if (!dragging) ui.scrubber.value = String(Math.round(at));
      ui.time.textContent = clock(at) + " / " + clock(total);
    }

    function setState(state) {
      playing = state === "playing";
      root.dataset.state = state;
      ui.play.textContent = playing ? "Pause" : state === "finished" ? "Replay" : "Play";
      ui.play.setAttribute("aria-label", ui.play.textContent);
    }

    function tick() {
      frame = null;
      show(replayer.getCurrentTime());
      if (playing) frame = window.requestAnimationFrame(tick);
    }

    // The recorded viewport keeps its size; scale it down to fit the stage.
    function fit(size) {
      var wrapper = stage.querySelector(".replayer-wrapper");
      if (!wrapper || !size || !size.width) return;
      var scale = Math.min(1, stage.clientWidth / size.width);
      wrapper.style.transform = "scale(" + scale + ")";
      stage.style.height = Math.ceil(size.height * scale) + "px";
    }
    var lastSize = null;
    replayer.on("resize", function (size) { lastSize = size; fit(size); });
    window.addEventListener("resize", function () { fit(lastSize); });

    replayer.on("finish", function () {
      setState("finished");
      show(total);
    });

    function play(at) {
      if (at === undefined) at = replayer.getCurrentTime();
      if (at >= total) at = 0;
      replayer.play(at);
      setState("playing");
      if (!frame) frame = window.requestAnimationFrame(tick);
    }

    // rrweb shows a paused frame from the events strictly *before* its offset: at
    // the start, step past the first full snapshot (or the page is not rebuilt);
    // at the very end, past the last event.
    var firstFull = 0;
    for (var i = 0; i < events.length; i++) {
      if (events[i].type === 2) { firstFull = events[i].timestamp - events[0].timestamp; break; }
    }
    function frameAt(at) {
      if (at === undefined) return undefined;
      return at >= total ? total + 1 : Math.max(at, firstFull + 1);
    }

    function pause(at) {
      replayer.pause(frameAt(at));
      setState("paused");
      show(at === undefined ? replayer.getCurrentTime() : at);
    }

    function seek(at) {
      at = Math.max(0, Math.min(total, Number(at) || 0));
      if (playing) play(at);
      else pause(at);
      show(at);
    }

    function setSpeed(value) {
      speed = SPEEDS.indexOf(value) >= 0 ? value : 1;
      replayer.setConfig({ speed: speed });
      Array.prototype.forEach.call(ui.speeds.children, function (button) {
        button.setAttribute("aria-pressed", button.dataset.speed === String(speed) ? "true" : "false");
      });
    }

    function setSkipInactive(on) {
      ui.skip.checked = !!on;
      replayer.setConfig({ skipInactive: !!on });
    }

    ui.play.addEventListener("click", function () {
      if (playing) pause();
      else play();
    });
    ui.speeds.addEventListener("click", function (event) {
      var button = event.target.closest("[data-speed]");
      if (button) setSpeed(Number(button.dataset.speed));
    });
    ui.skip.addEventListener("change", function () { setSkipInactive(ui.skip.checked); });
    ui.scrubber.addEventListener("input", function () {
      dragging = true;
      ui.time.textContent = clock(Number(ui.scrubber.value)) + " / " + clock(total);
    });
    ui.scrubber.addEventListener("change", function () {
      dragging = false;
      seek(Number(ui.scrubber.value));
    });
    // Space and the arrow keys, while the focus is in the player.
    root.addEventListener("keydown", function (event) {
      if (event.target === ui.scrubber) return; // the range input has its own keys
      if (event.key === " " && event.target.tagName !== "BUTTON") {
        event.preventDefault();
        if (playing) pause(); else play();
      }
    });
    document.addEventListener("click", function (event) {
      var target = event.target.closest && event.target.closest("[data-replay-seek]");
      if (!target) return;
      event.preventDefault();
      seek(Number(target.getAttribute("data-replay-seek")));
      root.scrollIntoView({ block: "nearest" });
    });

    pause(0); // show the first frame
    root.heliographReplay = {
      play: function () { play(); },
      pause: function () { pause(); },
      seek: seek,
      setSpeed: setSpeed,
      setSkipInactive: setSkipInactive,
      currentTime: function () { return replayer.getCurrentTime(); },
      totalTime: function () { return total; },
      replayer: replayer
    };
    root.dispatchEvent(new CustomEvent("replay:ready", { detail: { totalTime: total } }));
  }

  function start() {
    var root = document.getElementById("replay-player");
    if (!root) return;
    root.classList.add("replay-player");
    var url = root.getAttribute("data-events-url");
    if (!window.rrweb || !window.rrweb.Replayer) return fail(root, "The replay player did not load.");
    if (!url) return fail(root, "No recording to load.");
    root.dataset.state = "loading";
    root.textContent = "";
    root.appendChild(el("p", "replay-message", "Loading the recording…"));
    fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) {
        if (!response.ok) throw new Error("The recording could not be loaded (HTTP " + response.status + ").");
        return response.json();
      })
      .then(function (events) {
        if (!Array.isArray(events)) throw new Error("The recording is not a list of events.");
        mount(root, events);
      })["catch"](function (error) {
        fail(root, error && error.message ? error.message : "The recording could not be loaded.");
      });
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
