// Heliograph UI behaviour: progressive enhancement only. Every page works
// without this file; it adds conveniences. No inline handlers anywhere:
// elements opt in through data-* attributes, so a strict CSP can forbid
// inline script. (heliograph.js in this folder is the browser SDK snippet.)
(function () {
  "use strict";

  // Filter forms: selects submit as soon as they change, and empty fields
  // stay out of the URL so links to a filtered list are short.
  document.querySelectorAll("form[data-autosubmit]").forEach(function (form) {
    form.addEventListener("submit", function () {
      form.querySelectorAll("input[name], select[name]").forEach(function (field) {
        if (!field.value) field.disabled = true;
      });
      setTimeout(function () {
        form.querySelectorAll("[disabled]").forEach(function (f) { f.disabled = false; });
      }, 0);
    });
    form.querySelectorAll("select").forEach(function (select) {
      select.addEventListener("change", function () {
        if (form.requestSubmit) form.requestSubmit();
        else form.submit();
      });
    });
  });

  // Country codes (data-region="DE") read as their English names; the code
  // stays in the title, and is what shows without this script.
  var regions = document.querySelectorAll("[data-region]");
  if (regions.length && window.Intl && Intl.DisplayNames) {
    var regionNames = new Intl.DisplayNames(["en"], { type: "region" });
    regions.forEach(function (el) {
      try {
        el.textContent = regionNames.of(el.getAttribute("data-region")) || el.textContent;
      } catch (e) { /* not a region code: leave it as it is */ }
    });
  }

  // "/" focuses the search box, as on most trackers.
  var search = document.querySelector("[data-search]");
  if (search) {
    document.addEventListener("keydown", function (event) {
      var tag = (event.target.tagName || "").toLowerCase();
      if (event.key === "/" && tag !== "input" && tag !== "textarea" && tag !== "select") {
        event.preventDefault();
        search.focus();
        search.select();
      }
    });
  }

  // Copy buttons: data-copy="#element-id" copies that element's text.
  document.querySelectorAll("[data-copy]").forEach(function (button) {
    button.addEventListener("click", function () {
      var target = document.querySelector(button.getAttribute("data-copy"));
      if (!target) return;
      var label = button.textContent;
      var done = function (text) {
        button.textContent = text;
        setTimeout(function () { button.textContent = label; }, 1500);
      };
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(target.textContent).then(
          function () { done("Copied"); },
          function () { done("Copy failed"); }
        );
      } else {
        var range = document.createRange();
        range.selectNodeContents(target);
        var selection = window.getSelection();
        selection.removeAllRanges();
        selection.addRange(range);
        done(document.execCommand("copy") ? "Copied" : "Press Ctrl+C");
      }
    });
  });

  // Expand / collapse every frame of a stack trace.
  document.querySelectorAll("[data-toggle-frames]").forEach(function (button) {
    var scope = document.querySelector(button.getAttribute("data-toggle-frames"));
    if (!scope) return;
    button.addEventListener("click", function () {
      var frames = scope.querySelectorAll("details.frame");
      var anyClosed = Array.prototype.some.call(frames, function (d) { return !d.open; });
      frames.forEach(function (d) { d.open = anyClosed; });
      button.textContent = anyClosed ? "Collapse all" : "Expand all";
    });
  });

  // Bulk selection on the issue list: "select all", and buttons that need a choice.
  var bulk = document.getElementById("bulk");
  if (bulk) {
    var boxes = document.querySelectorAll('input[type="checkbox"][form="bulk"]');
    var all = document.querySelector('[data-select-all="bulk"]');
    var note = bulk.querySelector("[data-selection-note]");
    var idle = note ? note.textContent : "";
    var refresh = function () {
      var chosen = Array.prototype.filter.call(boxes, function (b) { return b.checked; }).length;
      bulk.querySelectorAll("[data-needs-selection]").forEach(function (button) {
        button.disabled = chosen === 0;
      });
      if (note) note.textContent = chosen ? chosen + " selected" : idle;
      if (all) {
        all.checked = chosen > 0 && chosen === boxes.length;
        all.indeterminate = chosen > 0 && chosen < boxes.length;
      }
    };
    boxes.forEach(function (box) { box.addEventListener("change", refresh); });
    if (all) {
      all.addEventListener("change", function () {
        boxes.forEach(function (box) { box.checked = all.checked; });
        refresh();
      });
    }
    refresh();
  }

  // Sliders: <output data-mirror-of="id"> shows the value of the range input #id.
  document.querySelectorAll("output[data-mirror-of]").forEach(function (output) {
    var range = document.getElementById(output.getAttribute("data-mirror-of"));
    if (!range) return;
    range.addEventListener("input", function () { output.textContent = range.value; });
  });

  // Menus (<details>) close on a click elsewhere or on Escape.
  var menus = document.querySelectorAll("details.menu");
  document.addEventListener("click", function (event) {
    menus.forEach(function (menu) {
      if (menu.open && !menu.contains(event.target)) menu.open = false;
    });
  });
  document.addEventListener("keydown", function (event) {
    if (event.key === "Escape") menus.forEach(function (menu) { menu.open = false; });
  });
})();
