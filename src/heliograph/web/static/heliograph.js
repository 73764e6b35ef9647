/*
 * Heliograph browser snippet: pageviews, page leaves, errors and custom events.
 *
 * Load it with its configuration in data attributes (the Python middleware
 * writes this tag for you):
 *
 *   <script src="https://heliograph.example.com/static/heliograph.js"
 *           data-api-key="phc_..." data-host="https://heliograph.example.com"
 *           data-environment="production" data-release="1.4.2"
 *           data-identify="id" defer></script>
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
 * heliograph.captureException(error, props).
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
      var properties = assign(assign(assign(assign({}, superProps), flagProps()), pageProps()), props);
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
  });
  document.addEventListener("visibilitychange", function () {
    if (document.visibilityState === "hidden") flush(true);
    else left = false;
  });

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
    reloadFeatureFlags: loadFlags
  };
  if (!bootstrap) loadFlags();

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", pageview);
  else pageview();
})();
