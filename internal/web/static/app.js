// DECNET dashboard live updates. Pages work without this file; with it,
// elements carrying data-stream receive server-sent events of rendered HTML:
//   data-stream   the /ui/stream URL to open
//   data-rows     id of a <tbody> to prepend "rows" frames to
//   data-counters id of an element whose content "counters" frames replace
//   data-limit    rows to keep in the table
// A .pause button inside stops applying frames; rows that arrive while paused
// are not shown (reload the page to see them).
(function () {
  "use strict";
  function start(el) {
    var url = el.getAttribute("data-stream");
    var rows = document.getElementById(el.getAttribute("data-rows") || "");
    var counters = document.getElementById(el.getAttribute("data-counters") || "");
    var limit = parseInt(el.getAttribute("data-limit") || "200", 10);
    var label = el.querySelector(".live-label");
    var pause = el.querySelector(".pause");
    var paused = false;
    var src = new EventSource(url);
    function state(text, cls) {
      el.classList.remove("is-live", "is-down", "is-paused");
      el.classList.add(cls);
      if (label) label.textContent = text;
    }
    src.onopen = function () { state(paused ? "Paused" : "Live", paused ? "is-paused" : "is-live"); };
    src.onerror = function () { if (!paused) state("Reconnecting…", "is-down"); };
    src.addEventListener("rows", function (ev) {
      if (paused || !rows) return;
      rows.insertAdjacentHTML("afterbegin", ev.data);
      while (rows.rows.length > limit) rows.deleteRow(rows.rows.length - 1);
    });
    src.addEventListener("counters", function (ev) {
      if (!paused && counters) counters.innerHTML = ev.data;
    });
    src.addEventListener("signedout", function (ev) {
      src.close();
      window.location.assign(ev.data);
    });
    if (pause) {
      pause.addEventListener("click", function () {
        paused = !paused;
        pause.setAttribute("aria-pressed", paused ? "true" : "false");
        pause.textContent = paused ? "Resume" : "Pause";
        state(paused ? "Paused" : "Live", paused ? "is-paused" : "is-live");
      });
    }
  }
  // The TTP inspector drawer (#drawer): htmx swaps an inspector into it;
  // it then opens, keeps Tab inside, and closes on Escape or its close link,
  // returning focus to the row that opened it. Without JS the links open
  // the inspector as a page.
  function drawer() {
    var d = document.getElementById("drawer");
    if (!d) return;
    var opener = null, home = window.location.pathname + "#ttp";
    function close() {
      if (d.hidden) return;
      d.hidden = true;
      d.innerHTML = "";
      if (window.location.pathname !== home.split("#")[0]) history.replaceState(null, "", home);
      if (opener) opener.focus();
    }
    document.addEventListener("click", function (ev) {
      var a = ev.target.closest && ev.target.closest("a");
      if (!a) return;
      if (a.hasAttribute("data-drawer-open")) opener = a;
      else if (d.contains(a) && a.classList.contains("drawer-close")) { ev.preventDefault(); close(); }
    });
    document.body.addEventListener("htmx:afterSwap", function (ev) {
      if (ev.detail.target !== d) return;
      d.hidden = false;
      d.setAttribute("tabindex", "-1");
      d.focus();
    });
    d.addEventListener("keydown", function (ev) {
      if (ev.key === "Escape") { ev.preventDefault(); close(); return; }
      if (ev.key !== "Tab") return;
      var f = d.querySelectorAll("a[href], button, input, [tabindex]:not([tabindex='-1'])");
      if (!f.length) { ev.preventDefault(); return; }
      var first = f[0], last = f[f.length - 1];
      if (ev.shiftKey && (document.activeElement === first || document.activeElement === d)) { ev.preventDefault(); last.focus(); }
      else if (!ev.shiftKey && document.activeElement === last) { ev.preventDefault(); first.focus(); }
    });
  }
  function init() {
    var els = document.querySelectorAll("[data-stream]");
    for (var i = 0; i < els.length; i++) start(els[i]);
    drawer();
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
