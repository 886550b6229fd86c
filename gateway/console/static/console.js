// The console's small behaviours; every page works without them (forms post normally).
(function () {
  "use strict";

  // --- editor: the gutter follows the text, problem lines are marked
  function syncGutter() {
    var source = document.getElementById("source");
    var gutter = document.getElementById("gutter");
    if (!source || !gutter) return;
    var lines = source.value.split("\n").length;
    var bad = {};
    document.querySelectorAll("#notes li[data-line]").forEach(function (li) { bad[li.dataset.line] = true; });
    var html = "";
    for (var i = 1; i <= lines; i++) {
      html += '<div id="line-' + i + '"' + (bad[i] ? ' class="bad"' : "") + ">" + i + "</div>";
    }
    gutter.innerHTML = html;
    source.rows = lines + 1;  // grows: no inner scroll, so gutter and notes stay aligned
  }
  document.addEventListener("input", function (e) { if (e.target.id === "source") syncGutter(); });
  document.addEventListener("htmx:afterSettle", syncGutter);
  document.addEventListener("DOMContentLoaded", syncGutter);

  // --- review queue: Enter confirms, 1-9 pick a label, S skips
  document.addEventListener("keydown", function (e) {
    if (!document.getElementById("queue")) return;
    if (document.querySelector("#queue .htmx-request")) return;  // one answer at a time
    if (e.altKey || e.ctrlKey || e.metaKey) return;
    var t = e.target;
    var tag = t && t.tagName;
    if (tag === "INPUT" || tag === "TEXTAREA" || tag === "SELECT") return;
    if (tag === "BUTTON" && e.key === "Enter") return;  // the focused button acts itself
    var key = e.key === "Enter" ? "confirm" : (e.key === "s" || e.key === "S") ? "skip" : /^[1-9]$/.test(e.key) ? e.key : null;
    if (!key) return;
    var button = document.querySelector('#queue [data-key="' + key + '"]');
    if (button && !button.disabled) { e.preventDefault(); button.click(); }
  });
})();
