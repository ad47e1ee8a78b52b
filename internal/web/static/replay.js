// DECNET session replay: plays an asciicast v2 recording into a <pre>.
// The server sends the events as JSON ({header, events: [[t, code, data]]});
// output events are applied with the same terminal rules as Go's
// recording.Screen: CR, LF, backspace, tab, erase in line, cursor left and
// right, delete and insert characters; other escapes (colour) are dropped.
(function () {
  "use strict";
  var MAX_IDLE = 2; // seconds: longer pauses are shortened to this

  function Screen() { this.lines = [[]]; this.row = 0; this.col = 0; this.esc = null; }
  Screen.prototype.put = function (ch) {
    var l = this.lines[this.row];
    while (l.length < this.col) l.push(" ");
    l[this.col] = ch;
    this.col++;
  };
  Screen.prototype.csi = function (p, f) {
    var n = parseInt(p, 10); if (isNaN(n)) n = 0; if (n > 1000) n = 1000;
    var l = this.lines[this.row], k, i;
    switch (f) {
      case "K":
        if (n === 0) { if (this.col < l.length) l.length = this.col; }
        else if (n === 1) { for (i = 0; i < this.col && i < l.length; i++) l[i] = " "; }
        else if (n === 2) { l.length = 0; }
        break;
      case "D": this.col = Math.max(0, this.col - Math.max(n, 1)); break;
      case "C": this.col += Math.max(n, 1); break;
      case "G": this.col = Math.max(n, 1) - 1; break;
      case "P":
        if (this.col < l.length) { k = Math.min(Math.max(n, 1), l.length - this.col); l.splice(this.col, k); }
        break;
      case "@":
        if (this.col < l.length) { for (i = 0; i < Math.max(n, 1); i++) l.splice(this.col, 0, " "); }
        break;
      case "J":
        if (n === 2 || n === 3) {
          if (l.length > 0) { this.lines.push([]); this.row = this.lines.length - 1; }
          this.col = 0;
        }
        break;
    }
  };
  Screen.prototype.write = function (s) {
    for (var ch of s) {
      var c = ch.codePointAt(0);
      if (this.esc !== null) {
        var e = this.esc;
        if (e === "") {
          if (ch === "[" || ch === "]") this.esc = ch; else this.esc = null;
        } else if (e[0] === "]") {
          if (ch === "\x07" || (ch === "\\" && e[e.length - 1] === "\x1b") || e.length > 256) this.esc = null;
          else this.esc = e + ch;
        } else if (c >= 0x40 && c <= 0x7e) {
          this.csi(e.slice(1), ch); this.esc = null;
        } else if (e.length > 32) { this.esc = null; } else { this.esc = e + ch; }
        continue;
      }
      if (ch === "\x1b") this.esc = "";
      else if (ch === "\r") this.col = 0;
      else if (ch === "\n") {
        this.row++; this.col = 0;
        if (this.row === this.lines.length) this.lines.push([]);
      } else if (ch === "\b") { if (this.col > 0) this.col--; }
      else if (ch === "\t") { var t = 8 - this.col % 8; while (t-- > 0) this.put(" "); }
      else if (c < 32 || c === 0x7f || c === 0xfffd) { /* other controls */ }
      else this.put(ch);
    }
  };
  Screen.prototype.text = function () {
    return this.lines.map(function (l) { return l.join("").replace(/ +$/, ""); }).join("\n").replace(/\n+$/, "");
  };

  function setup(box) {
    var pre = box.querySelector("[data-replay-screen]");
    var controls = box.querySelector(".player-controls");
    var play = box.querySelector("[data-replay-play]");
    var speed = box.querySelector("[data-replay-speed]");
    var pos = box.querySelector("[data-replay-pos]");
    var clock = box.querySelector("[data-replay-time]");
    var evs = [], times = [], total = 0;
    var screen, next = 0, at = 0, playing = false, last = 0, timer = 0;

    function fmt(t) { return t.toFixed(1); }
    function show() {
      pre.textContent = screen.text();
      pre.scrollTop = pre.scrollHeight;
      pos.value = total > 0 ? Math.round(at / total * 1000) : 1000;
      clock.textContent = fmt(at) + " / " + fmt(total) + " s";
    }
    function reset() { screen = new Screen(); next = 0; }
    function advance(to) {
      if (to < at) { reset(); }
      at = Math.min(to, total);
      var changed = false;
      while (next < evs.length && times[next] <= at) {
        if (evs[next][1] === "o") { screen.write(evs[next][2]); changed = true; }
        next++;
      }
      return changed;
    }
    function stop() {
      playing = false; play.textContent = at >= total ? "Replay" : "Play";
      play.setAttribute("aria-pressed", "false");
      if (timer) cancelAnimationFrame(timer); timer = 0;
    }
    function tick(now) {
      if (!playing) return;
      var dt = (now - last) / 1000 * parseFloat(speed.value);
      last = now;
      advance(at + dt);
      show();
      if (at >= total) { stop(); return; }
      timer = requestAnimationFrame(tick);
    }
    function start() {
      if (at >= total) { reset(); at = 0; }
      playing = true; play.textContent = "Pause"; play.setAttribute("aria-pressed", "true");
      last = performance.now(); timer = requestAnimationFrame(tick);
    }
    play.addEventListener("click", function () { if (playing) stop(); else start(); });
    pos.addEventListener("input", function () { advance(parseInt(pos.value, 10) / 1000 * total); show(); });

    fetch(box.getAttribute("data-replay"), { credentials: "same-origin" })
      .then(function (r) { if (!r.ok) throw new Error(r.status); return r.json(); })
      .then(function (page) {
        evs = page.events || [];
        var t = 0, prev = 0;
        for (var i = 0; i < evs.length; i++) {
          t += Math.min(Math.max(evs[i][0] - prev, 0), MAX_IDLE);
          prev = evs[i][0];
          times.push(t);
        }
        total = t;
        reset(); at = 0;
        controls.hidden = false;
        box.classList.add("js-player");
        show();
      })
      .catch(function () { /* keep the text transcript */ });
  }

  document.querySelectorAll("[data-replay]").forEach(setup);
})();
