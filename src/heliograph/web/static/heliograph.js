/*
 * Heliograph browser snippet: pageviews, page leaves, errors, custom events and
 * session recordings.
 *
 * Load it with its configuration in data attributes (the Python middleware
 * writes this tag for you):
 *
 *   <script src="https://heliograph.example.com/static/heliograph.js"
 *           data-api-key="phc_..." data-host="https://heliograph.example.com"
 *           data-environment="production" data-release="1.4.2"
 *           data-identify="id" defer></script>
 *
 * Optional: data-replay="off", data-replay-consent="required" (see below).
 *
 * Events are PostHog-shaped ({event, distinct_id, properties, timestamp,
 * uuid}), batched, and POSTed as JSON with Content-Type text/plain (no CORS
 * preflight) to {host}/batch/ as {"api_key": ..., "batch": [...]}; when the
 * page is hidden or left, the queue goes out with navigator.sendBeacon.
 *
 * Privacy: no cookies and no localStorage, ever. The anonymous id lives in
 * sessionStorage (one per tab, gone when the tab closes; memory only when
 * storage is unavailable). identify() keeps the user in memory and in
 * sessionStorage; call it on every page load once the user is known.
 * data-identify (none/id/email/full) decides which user attributes travel.
 * data-user='{"id": ...}' (the Python middleware writes it for a signed-in
 * user, filtered by the identify mode) identifies the page from the start.
 *
 * API: heliograph.capture(name, props), heliograph.identify(id, props),
 * heliograph.register(props), heliograph.reset(), heliograph.flush(),
 * heliograph.captureException(error, props), heliograph.setReplayConsent(bool),
 * heliograph.getSessionId().
 *
 * Sessions: every event carries $session_id (a time-ordered UUIDv7, one per
 * tab in sessionStorage, renewed after 30 minutes without activity or after
 * 24 hours) and $window_id (the tab), so pageviews and errors join the replay.
 *
 * Session recording: only when the project records (the remote config,
 * {host}/array/{apiKey}/config, answers "sessionRecording": {...}). rrweb is
 * then loaded from {host}/static/vendor/rrweb.min.js (never a CDN), each new
 * session is sampled at its sampleRate, and the recording goes out every ~2 s
 * (or ~1 MB) as PostHog $snapshot events POSTed as text/plain to {host}/s/,
 * by sendBeacon when the page is hidden; a session shorter than
 * minimumDurationMilliseconds is held back, and dropped if the page goes first.
 * Privacy: input values are always masked (whatever the config says); page
 * text is masked and images, media, canvas and iframes are blocked unless the
 * project's config leaves out maskTextSelector / blockSelector; canvas is
 * recorded only with recordCanvas. Elements with class rr-block or
 * ph-no-capture are never recorded, rr-mask or ph-mask text is masked.
 * data-replay="off" turns recording off for the page. With
 * data-replay-consent="required" nothing is recorded (nor rrweb loaded) until
 * heliograph.setReplayConsent(true); setReplayConsent(false) stops and drops
 * what is not sent yet. Call it on each page load, as the consent is the page's.
 *
 * Feature flags: heliograph.getFeatureFlag(key), isFeatureEnabled(key),
 * getFeatureFlagPayload(key), onFeatureFlags(callback), reloadFeatureFlags().
 * Values come from {host}/flags for the current person (again after
 * identify() and reset()); until then a flag is undefined. A server that
 * knows the person renders them into the tag (data-flags='{"distinctId":
 * ..., "flags": {...}, "payloads": {...}}', the Python middleware does): they
 * are there before the page's first paint, with no request and no flash.
 * Events carry the values as $feature/<key>, and the first read of each
 * value sends one $feature_flag_called.
 */
(function () {
  "use strict";
  if (window.heliograph && window.heliograph.__loaded) return;

  var VERSION = "0.1.0";
  var BATCH_SIZE = 20;
  var FLUSH_MS = 1000;
  var MAX_QUEUE = 500;
  var KEY_ID = "heliograph_distinct_id";
  var KEY_USER = "heliograph_user";

  var script =
    document.currentScript ||
    document.querySelector("script[data-heliograph-snippet]") ||
    document.querySelector('script[src*="heliograph.js"]');
  var data = (script && script.dataset) || {};
  var apiKey = data.apiKey;
  var srcOrigin = "";
  try { srcOrigin = new URL(script.src, location.href).origin; } catch (e) { /* inline */ }
  var host = (data.host || srcOrigin || "").replace(/\/+$/, "");
  var identifyMode = ["none", "id", "email", "full"].indexOf(data.identify) >= 0 ? data.identify : "id";

  var queue = [];
  var timer = null;
  var superProps = { $lib: "heliograph-js", $lib_version: VERSION, environment: data.environment || "unknown" };
  if (data.release) superProps.release = data.release;
  var user = null; // {distinct_id, props}
  var lastUrl = null;

  function session(key, value) {
    try {
      if (value === undefined) return window.sessionStorage.getItem(key);
      if (value === null) window.sessionStorage.removeItem(key);
      else window.sessionStorage.setItem(key, value);
    } catch (e) { /* storage blocked: memory only */ }
    return null;
  }

  function uuid() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    var b = new Uint8Array(16);
    (window.crypto || { getRandomValues: function (a) { for (var i = 0; i < a.length; i++) a[i] = Math.random() * 256; return a; } }).getRandomValues(b);
    b[6] = (b[6] & 15) | 64; b[8] = (b[8] & 63) | 128;
    var h = Array.prototype.map.call(b, function (x) { return (x + 256).toString(16).slice(1); }).join("");
    return h.slice(0, 8) + "-" + h.slice(8, 12) + "-" + h.slice(12, 16) + "-" + h.slice(16, 20) + "-" + h.slice(20);
  }

  // A time-ordered id (UUIDv7 layout: 48 bits of Unix milliseconds first), so
  // session ids sort by when the session began, as PostHog's do.
  function uuidv7() {
    var ms = Date.now().toString(16);
    while (ms.length < 12) ms = "0" + ms;
    var rest = uuid().replace(/-/g, "");
    var h = ms + "7" + rest.slice(13, 16) + ((parseInt(rest[16], 16) & 3) | 8).toString(16) + rest.slice(17, 32);
    return h.slice(0, 8) + "-" + h.slice(8, 12) + "-" + h.slice(12, 16) + "-" + h.slice(16, 20) + "-" + h.slice(20, 32);
  }

  // -- session and window ids ---------------------------------------------------
  // $session_id ties a tab's pageviews, errors, events and recording together:
  // it lives in sessionStorage and a new one begins after 30 minutes without
  // activity (an event, or a user interaction while recording) or after 24 h.
  // $window_id is the tab: a tab duplicated from this one (which copies
  // sessionStorage) notices the "open" mark and takes a window id of its own.
  var SESSION_IDLE_MS = 30 * 60 * 1000;
  var SESSION_MAX_MS = 24 * 60 * 60 * 1000;
  var KEY_SESSION = "heliograph_session";
  var KEY_WINDOW = "heliograph_window";
  var KEY_WINDOW_OPEN = "heliograph_window_open";
  var sessionState = null; // {id, started, last}
  var sessionListeners = [];
  try { sessionState = JSON.parse(session(KEY_SESSION) || "null"); } catch (e) { sessionState = null; }
  var windowId = session(KEY_WINDOW_OPEN) ? null : session(KEY_WINDOW);
  if (!windowId) { windowId = uuidv7(); session(KEY_WINDOW, windowId); }
  session(KEY_WINDOW_OPEN, "1");
  var sessionSaved = 0;

  // The current session id; `active` marks activity (it keeps the session alive).
  function currentSession(active) {
    var now = Date.now();
    var state = sessionState;
    if (!state || !state.id || now - state.last > SESSION_IDLE_MS || now - state.started > SESSION_MAX_MS) {
      var previous = state && state.id;
      sessionState = state = { id: uuidv7(), started: now, last: now };
      session(KEY_SESSION, JSON.stringify(state));
      sessionSaved = now;
      if (previous) sessionListeners.forEach(function (listener) { listener(state.id); });
      return state.id;
    }
    if (active) {
      state.last = now;
      if (now - sessionSaved > 1000) { sessionSaved = now; session(KEY_SESSION, JSON.stringify(state)); }
    }
    return state.id;
  }

  var anonymousId = session(KEY_ID) || uuid();
  session(KEY_ID, anonymousId);
  try { user = JSON.parse(session(KEY_USER) || "null"); } catch (e) { user = null; }
  // data-user: the server's signed-in user, already filtered by its identify mode.
  var pageUser = null;
  try { pageUser = data.user ? JSON.parse(data.user) : null; } catch (e) { pageUser = null; }
  if (pageUser && pageUser.id !== undefined && pageUser.id !== null) {
    user = { distinct_id: String(pageUser.id), props: pageUser };
    session(KEY_USER, JSON.stringify(user));
  }

  // -- feature flags: state ---------------------------------------------------

  var flags = null; // {values: {key: value}, payloads: {key: json text}} once known
  var flagListeners = [];
  var flagsCalled = {};
  var bootstrap = null;
  try { bootstrap = data.flags ? JSON.parse(data.flags) : null; } catch (e) { bootstrap = null; }
  if (bootstrap && bootstrap.distinctId && !(user && user.distinct_id)) {
    user = { distinct_id: String(bootstrap.distinctId), props: { id: String(bootstrap.distinctId) } };
  }
  if (bootstrap && bootstrap.flags && typeof bootstrap.flags === "object") {
    flags = { values: bootstrap.flags, payloads: bootstrap.payloads || {} };
  }

  function assign(target, source) {
    if (source) for (var k in source) if (Object.prototype.hasOwnProperty.call(source, k)) target[k] = source[k];
    return target;
  }

  function pageProps() {
    return {
      $current_url: location.href,
      $host: location.host,
      $pathname: location.pathname,
      $referrer: document.referrer || "$direct",
      $title: document.title,
      $screen_width: window.screen ? screen.width : undefined,
      $screen_height: window.screen ? screen.height : undefined,
      $viewport_width: window.innerWidth,
      $viewport_height: window.innerHeight
    };
  }

  function currentId() {
    return user && user.distinct_id ? user.distinct_id : anonymousId;
  }

  function flagProps() {
    var out = {};
    if (flags) for (var key in flags.values) {
      if (Object.prototype.hasOwnProperty.call(flags.values, key)) out["$feature/" + key] = flags.values[key];
    }
    return out;
  }

  function capture(name, props) {
    try {
      if (!apiKey || !name) return;
      var ids = { $session_id: currentSession(true), $window_id: windowId };
      var properties = assign(assign(assign(assign(assign({}, superProps), flagProps()), pageProps()), ids), props);
      var distinctId = anonymousId;
      if (user && user.distinct_id) {
        distinctId = user.distinct_id;
        if (user.props) properties.$user = user.props;
      } else {
        properties.$process_person_profile = false;
      }
      if (queue.length >= MAX_QUEUE) queue.shift();
      queue.push({ event: String(name), distinct_id: distinctId, properties: properties, timestamp: new Date().toISOString(), uuid: uuid() });
      if (queue.length >= BATCH_SIZE) flush();
      else if (!timer) timer = setTimeout(flush, FLUSH_MS);
    } catch (e) { /* never break the page */ }
  }

  function body(events) {
    return JSON.stringify({ api_key: apiKey, batch: events, sent_at: new Date().toISOString() });
  }

  function flush(beacon) {
    if (timer) { clearTimeout(timer); timer = null; }
    if (!queue.length || !host) return;
    var events = queue.splice(0, queue.length);
    var url = host + "/batch/";
    try {
      if (beacon === true && navigator.sendBeacon &&
          navigator.sendBeacon(url, new Blob([body(events)], { type: "text/plain" }))) return;
      if (window.fetch) {
        fetch(url, { method: "POST", body: body(events), headers: { "Content-Type": "text/plain" },
                     keepalive: true, credentials: "omit", mode: "cors" })["catch"](function () {});
      } else {
        var xhr = new XMLHttpRequest();
        xhr.open("POST", url, true);
        xhr.setRequestHeader("Content-Type", "text/plain");
        xhr.send(body(events));
      }
    } catch (e) { /* dropped */ }
  }

  function identify(id, props) {
    if (id === undefined || id === null || id === "") return;
    var view = null;
    if (identifyMode !== "none") {
      view = { id: String(id) };
      props = props || {};
      if ((identifyMode === "email" || identifyMode === "full") && props.email) view.email = String(props.email);
      if (identifyMode === "full") assign(view, props);
      view.id = String(id);
    }
    var before = currentId();
    user = view ? { distinct_id: view.id, props: view } : null;
    session(KEY_USER, user ? JSON.stringify(user) : null);
    if (currentId() !== before) loadFlags();
  }

  function reset() {
    user = null;
    session(KEY_USER, null);
    anonymousId = uuid();
    session(KEY_ID, anonymousId);
    loadFlags();
  }

  // -- feature flags: loading and reading ---------------------------------------

  function setFlags(values, payloads) {
    flags = { values: values || {}, payloads: payloads || {} };
    flagsCalled = {};
    flagListeners.slice().forEach(function (listener) {
      try { listener(assign({}, flags.values)); } catch (e) { /* the page's own error */ }
    });
  }

  function loadFlags() {
    if (!apiKey || !host || !window.fetch) return;
    var asked = currentId();
    fetch(host + "/flags/?v=2", {
      method: "POST", credentials: "omit", mode: "cors",
      headers: { "Content-Type": "text/plain" },
      body: JSON.stringify({ token: apiKey, distinct_id: asked, environment: superProps.environment,
                             person_properties: user && user.props ? user.props : {} })
    }).then(function (response) { return response.ok ? response.json() : null; })
      .then(function (answer) {
        if (!answer || !answer.flags || currentId() !== asked) return; // someone else now
        var values = {}, payloads = {};
        for (var key in answer.flags) {
          if (!Object.prototype.hasOwnProperty.call(answer.flags, key)) continue;
          var flag = answer.flags[key];
          values[key] = flag.variant || !!flag.enabled;
          if (flag.metadata && flag.metadata.payload != null) payloads[key] = flag.metadata.payload;
        }
        setFlags(values, payloads);
      })["catch"](function () { /* flags stay as they were */ });
  }

  function getFeatureFlag(key) {
    if (!flags || !Object.prototype.hasOwnProperty.call(flags.values, key)) return undefined;
    var value = flags.values[key];
    var seen = key + "\u0000" + String(value);
    if (!flagsCalled[seen]) {
      flagsCalled[seen] = true;
      capture("$feature_flag_called", { $feature_flag: key, $feature_flag_response: value });
    }
    return value;
  }

  function getFeatureFlagPayload(key) {
    if (!flags || getFeatureFlag(key) === undefined) return undefined;
    var text = flags.payloads[key];
    if (text === undefined || text === null) return undefined;
    if (typeof text !== "string") return text;
    try { return JSON.parse(text); } catch (e) { return text; }
  }

  // -- errors -----------------------------------------------------------------

  var CHROME = /^\s*at (?:(async )?(.+?) \()?((?:[a-z-]+:\/\/|\/|<anonymous>).*?|[^\s()]+?):(\d+)(?::(\d+))?\)?\s*$/i;
  var GECKO = /^\s*(.*?)(?:\((.*?)\))?(?:^|@)((?:[a-z-]+:\/\/|\/).*?|[^@]*?):(\d+)(?::(\d+))?\s*$/i;

  function parseStack(stack) {
    var frames = [];
    String(stack || "").split("\n").forEach(function (line) {
      var m = CHROME.exec(line), fn, file, lineno, colno;
      if (m) { fn = m[2]; file = m[3]; lineno = m[4]; colno = m[5]; }
      else if ((m = GECKO.exec(line)) && line.indexOf("@") >= 0) {
        fn = m[1].replace(/^async\*/, ""); file = m[3]; lineno = m[4]; colno = m[5];
      } else return;
      var inApp = true;
      try { inApp = new URL(file, location.href).origin === location.origin; } catch (e) { inApp = false; }
      frames.push({
        platform: "web:javascript",
        filename: file,
        abs_path: file,
        function: fn || "?",
        lineno: lineno ? parseInt(lineno, 10) : null,
        colno: colno ? parseInt(colno, 10) : null,
        in_app: inApp
      });
    });
    return frames.reverse(); // the stack lists the newest call first; we send oldest first
  }

  function exceptionList(error, mechanism) {
    var list = [];
    var seen = [];
    var current = error;
    while (current && list.length < 10 && seen.indexOf(current) < 0) {
      seen.push(current);
      var isError = current instanceof Error || (typeof current === "object" && "message" in current);
      var item = {
        type: (isError && current.name) || (typeof current === "object" ? "Error" : "UnhandledRejection"),
        value: isError ? String(current.message) : String(current),
        mechanism: { type: list.length ? "chained" : mechanism, handled: mechanism === "generic",
                     synthetic: !isError, exception_id: list.length },
        stacktrace: { type: "raw", frames: isError ? parseStack(current.stack) : [] }
      };
      if (list.length) { item.mechanism.parent_id = list.length - 1; item.mechanism.source = "cause"; }
      list.push(item);
      current = isError ? current.cause : null;
    }
    return list;
  }

  function captureException(error, props, mechanism) {
    try {
      var list = exceptionList(error, mechanism || "generic");
      capture("$exception", assign({
        $exception_list: list,
        $exception_level: "error",
        $exception_type: list[0] && list[0].type,
        $exception_message: list[0] && list[0].value
      }, props));
    } catch (e) { /* never break the page */ }
  }

  window.addEventListener("error", function (event) {
    if (!event || event.target !== window && event.target && event.target.tagName) return; // resource errors
    var error = event.error;
    if (!error) {
      error = new Error(event.message || "Script error");
      error.stack = event.filename ? "at " + event.filename + ":" + event.lineno + ":" + event.colno : "";
    }
    captureException(error, null, "onerror");
  });
  window.addEventListener("unhandledrejection", function (event) {
    captureException(event.reason, null, "onunhandledrejection");
  });

  // -- pageviews --------------------------------------------------------------

  function pageview() {
    if (location.href === lastUrl) return;
    lastUrl = location.href;
    capture("$pageview");
  }

  ["pushState", "replaceState"].forEach(function (method) {
    var original = history[method];
    if (typeof original !== "function") return;
    history[method] = function () {
      var result = original.apply(this, arguments);
      setTimeout(pageview, 0);
      return result;
    };
  });
  window.addEventListener("popstate", function () { setTimeout(pageview, 0); });

  var left = false;
  window.addEventListener("pagehide", function () {
    if (!left) { left = true; capture("$pageleave"); }
    flush(true);
    flushReplay(true);
    session(KEY_WINDOW_OPEN, null); // this tab's id is free for its next page
  });
  window.addEventListener("pageshow", function () { session(KEY_WINDOW_OPEN, "1"); });
  document.addEventListener("visibilitychange", function () {
    if (document.visibilityState === "hidden") { flush(true); flushReplay(true); }
    else left = false;
  });

  // -- session recording ----------------------------------------------------------
  // Off unless the project records (remote config {host}/array/{key}/config says
  // "sessionRecording": {...}), never with data-replay="off", and with
  // data-replay-consent="required" not before setReplayConsent(true). rrweb is
  // loaded from this Heliograph (static/vendor/rrweb.min.js), never a CDN.
  // Inputs are always masked; text is masked and media blocked unless the
  // project's config leaves those selectors out; canvas only with recordCanvas.

  var REPLAY_FLUSH_MS = 2000;
  var REPLAY_BATCH_BYTES = 1000000;
  var BEACON_MAX_BYTES = 60000; // sendBeacon and keepalive fetch refuse bodies past ~64 KiB
  var KEY_SAMPLED = "heliograph_replay_sampled";
  // rrweb incremental sources that are a person doing something (they keep the session alive).
  var USER_SOURCES = { 1: 1, 2: 1, 3: 1, 4: 1, 5: 1, 6: 1, 12: 1 };
  var replayOff = data.replay === "off";
  var replayConsent = data.replayConsent !== "required";
  var replayConfig = null; // the project's sessionRecording object, once known
  var replayConfigAsked = false;
  var rrwebApi = null;
  var rrwebWaiting = null; // callbacks while the script loads
  var stopRecording = null;
  var replayBuffer = [];
  var replayBytes = 0;
  var replaySession = null; // the session the buffer belongs to
  var replaySessionStarted = 0;
  var replayTimer = null;

  function replaySampled(id) {
    var rate = parseFloat(replayConfig.sampleRate);
    if (isNaN(rate) || rate >= 1) return true;
    var known = null;
    try { known = JSON.parse(session(KEY_SAMPLED) || "null"); } catch (e) { known = null; }
    if (known && known.session === id) return known.sampled;
    var sampled = Math.random() < Math.max(0, rate); // once per session, kept for the tab
    session(KEY_SAMPLED, JSON.stringify({ session: id, sampled: sampled }));
    return sampled;
  }

  function askReplayConfig() {
    if (replayConfigAsked || !apiKey || !host || !window.fetch) return;
    replayConfigAsked = true;
    fetch(host + "/array/" + encodeURIComponent(apiKey) + "/config", { credentials: "omit", mode: "cors" })
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (config) {
        var recording = config && config.sessionRecording;
        if (recording && typeof recording === "object") { replayConfig = recording; startReplay(); }
      })["catch"](function () { /* no recording */ });
  }

  function loadRrweb(done) {
    if (rrwebApi) return done(rrwebApi);
    if (rrwebWaiting) return rrwebWaiting.push(done);
    rrwebWaiting = [done];
    // The UMD build sets window.rrweb: keep whatever rrweb the page has there.
    var had = Object.prototype.hasOwnProperty.call(window, "rrweb"), before = window.rrweb;
    var tag = document.createElement("script");
    tag.src = host + "/static/vendor/rrweb.min.js?v=" + VERSION;
    tag.async = true;
    tag.crossOrigin = "anonymous";
    tag.onload = function () {
      var loaded = window.rrweb;
      if (had) window.rrweb = before;
      else try { delete window.rrweb; } catch (e) { window.rrweb = undefined; }
      rrwebApi = loaded && typeof loaded.record === "function" ? loaded : null;
      var waiting = rrwebWaiting; rrwebWaiting = null;
      if (rrwebApi) waiting.forEach(function (callback) { callback(rrwebApi); });
    };
    tag.onerror = function () { rrwebWaiting = null; };
    (document.head || document.documentElement).appendChild(tag);
  }

  function startReplay() {
    if (replayOff || !replayConsent || stopRecording) return;
    if (!replayConfig) return askReplayConfig();
    if (!replaySampled(currentSession(false))) return;
    loadRrweb(function (rrweb) {
      if (replayOff || !replayConsent || stopRecording || !replayConfig) return;
      var masking = replayConfig.masking || {};
      var options = {
        emit: recorded,
        maskAllInputs: true, // always, whatever the config says
        blockClass: /^(rr-block|ph-no-capture)$/,
        maskTextClass: /^(rr-mask|ph-mask)$/,
        recordCanvas: replayConfig.recordCanvas === true,
        recordCrossOriginIframes: false,
        collectFonts: false,
        inlineImages: false,
        sampling: { mousemove: 50, scroll: 150, input: "last" }
      };
      if (typeof masking.maskTextSelector === "string") options.maskTextSelector = masking.maskTextSelector;
      if (typeof masking.blockSelector === "string") options.blockSelector = masking.blockSelector;
      if (options.recordCanvas) {
        options.sampling.canvas = 2;
        options.dataURLOptions = { type: "image/webp", quality: 0.4 };
      }
      try { stopRecording = rrweb.record(options) || null; } catch (e) { stopRecording = null; }
    });
  }

  function stopReplay() {
    if (stopRecording) { try { stopRecording(); } catch (e) { /* gone */ } }
    stopRecording = null;
    replaySession = null;
    dropReplay();
  }

  function dropReplay() {
    replayBuffer = [];
    replayBytes = 0;
    if (replayTimer) { clearTimeout(replayTimer); replayTimer = null; }
  }

  function recorded(event) {
    try {
      if (!replayConsent || replayOff) return;
      var interaction = event.type === 3 && event.data && USER_SOURCES[event.data.source];
      var before = replaySession;
      var id = currentSession(!!interaction);
      // The first event after 30 idle minutes began a new session: the listener
      // below has sent the old one and recorded a full snapshot for the new one,
      // which this event, older than that snapshot, would precede.
      if (before && id !== before) return;
      if (!before) beginReplaySession(id);
      var size = JSON.stringify(event).length;
      replayBuffer.push(event);
      replayBytes += size;
      if (replayBytes >= REPLAY_BATCH_BYTES) flushReplay(false);
      else if (!replayTimer) replayTimer = setTimeout(function () { replayTimer = null; flushReplay(false); }, REPLAY_FLUSH_MS);
    } catch (e) { /* never break the page */ }
  }

  function beginReplaySession(id) {
    replaySession = id;
    replaySessionStarted = sessionState && sessionState.id === id ? sessionState.started : Date.now();
  }

  // A session too short to keep (minimumDurationMilliseconds) is held, not sent:
  // sent once it has lasted that long, dropped if the page goes first.
  function longEnough() {
    var minimum = Number(replayConfig && replayConfig.minimumDurationMilliseconds) || 0;
    return !minimum || Date.now() - replaySessionStarted >= minimum;
  }

  function flushReplay(beacon) {
    if (replayTimer) { clearTimeout(replayTimer); replayTimer = null; }
    if (!replayBuffer.length || !host || !replayConfig || !replaySession) return;
    if (!longEnough()) {
      if (!beacon) replayTimer = setTimeout(function () { replayTimer = null; flushReplay(false); }, REPLAY_FLUSH_MS);
      return;
    }
    var events = replayBuffer, bytes = replayBytes;
    replayBuffer = []; replayBytes = 0;
    var snapshot = {
      event: "$snapshot",
      distinct_id: currentId(),
      properties: { $snapshot_data: events, $session_id: replaySession,
                    $window_id: windowId, $snapshot_bytes: bytes, $lib: "heliograph-js", $lib_version: VERSION },
      timestamp: new Date().toISOString(),
      uuid: uuid()
    };
    var path = typeof replayConfig.endpoint === "string" && /^\/[^\/]/.test(replayConfig.endpoint) ? replayConfig.endpoint : "/s/";
    var url = host + path;
    var text = body([snapshot]);
    var small = text.length < BEACON_MAX_BYTES;
    try {
      if (beacon === true && small && navigator.sendBeacon &&
          navigator.sendBeacon(url, new Blob([text], { type: "text/plain" }))) return;
      if (window.fetch) {
        fetch(url, { method: "POST", body: text, headers: { "Content-Type": "text/plain" },
                     keepalive: small, credentials: "omit", mode: "cors" })["catch"](function () {});
      }
    } catch (e) { /* dropped */ }
  }

  // A new session (30 min idle) while recording: send the old one's last
  // events, then start the new one with a full snapshot of the page.
  sessionListeners.push(function (id) {
    if (!stopRecording) return startReplay();
    flushReplay(false);
    dropReplay();
    replaySession = null;
    if (!replaySampled(id)) return stopReplay();
    beginReplaySession(id);
    try { rrwebApi.record.takeFullSnapshot(true); } catch (e) { /* the next page load has one */ }
  });

  function setReplayConsent(granted) {
    replayConsent = !!granted;
    if (replayConsent) startReplay();
    else stopReplay();
  }

  window.heliograph = {
    __loaded: true,
    capture: capture,
    captureException: function (error, props) { captureException(error, props, "generic"); },
    identify: identify,
    register: function (props) { assign(superProps, props); },
    reset: reset,
    flush: function () { flush(false); },
    getDistinctId: currentId,
    getFeatureFlag: getFeatureFlag,
    isFeatureEnabled: function (key) { var value = getFeatureFlag(key); return value === undefined ? undefined : !!value; },
    getFeatureFlagPayload: getFeatureFlagPayload,
    onFeatureFlags: function (listener) {
      if (typeof listener !== "function") return;
      flagListeners.push(listener);
      if (flags) { try { listener(assign({}, flags.values)); } catch (e) { /* the page's */ } }
    },
    reloadFeatureFlags: loadFlags,
    setReplayConsent: setReplayConsent,
    getSessionId: function () { return currentSession(false); }
  };
  startReplay();
  if (!bootstrap) loadFlags();

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", pageview);
  else pageview();
})();
