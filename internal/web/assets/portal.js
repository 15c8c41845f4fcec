// rpzfw portal: filter and sort tables; the pages work without it.
"use strict";
document.addEventListener("DOMContentLoaded", function () {
  function apply(table) {
    var text = (document.querySelector("[data-filter='#" + table.id + "']") || {}).value || "";
    var state = (document.querySelector("[data-state-filter='#" + table.id + "']") || {}).value || "";
    text = text.toLowerCase();
    var shown = 0;
    table.querySelectorAll("tbody tr").forEach(function (tr) {
      var ok = tr.textContent.toLowerCase().indexOf(text) >= 0 && (!state || tr.dataset.state === state);
      tr.hidden = !ok;
      if (ok) shown++;
    });
    var none = document.getElementById("no-match");
    if (none) none.hidden = shown > 0;
  }
  document.querySelectorAll("[data-filter], [data-state-filter]").forEach(function (el) {
    var table = document.querySelector(el.dataset.filter || el.dataset.stateFilter);
    if (!table) return;
    el.addEventListener("input", function () { apply(table); });
    el.addEventListener("change", function () { apply(table); });
  });
  document.querySelectorAll("th button[data-sort]").forEach(function (btn) {
    btn.addEventListener("click", function () {
      var table = btn.closest("table");
      var col = Number(btn.dataset.sort);
      var numeric = btn.hasAttribute("data-numeric");
      var th = btn.parentElement;
      var asc = th.getAttribute("aria-sort") !== "ascending";
      table.querySelectorAll("th[aria-sort]").forEach(function (h) { h.removeAttribute("aria-sort"); });
      th.setAttribute("aria-sort", asc ? "ascending" : "descending");
      var body = table.tBodies[0];
      var rows = Array.prototype.slice.call(body.rows);
      function key(tr) {
        var td = tr.cells[col];
        var v = td.dataset.value !== undefined ? td.dataset.value : td.textContent.trim().toLowerCase();
        return numeric ? Number(v) : v;
      }
      rows.sort(function (a, b) {
        var x = key(a), y = key(b);
        var c = x < y ? -1 : x > y ? 1 : 0;
        return asc ? c : -c;
      });
      rows.forEach(function (tr) { body.appendChild(tr); });
    });
  });
});
// Device pages: show the credential fields of the chosen type, and copy
// buttons (the policy stays selectable text without them).
document.addEventListener("DOMContentLoaded", function () {
  // After a refused form, the keyboard starts at the first field to fix.
  var bad = document.querySelector("main [aria-invalid='true']");
  if (bad) bad.focus();
  var type = document.querySelector("[data-cred-type]");
  if (type) {
    var show = function () {
      document.querySelectorAll("[data-cred]").forEach(function (el) {
        el.hidden = el.dataset.cred !== type.value && !el.querySelector("[aria-invalid]");
      });
    };
    type.addEventListener("change", show);
    show();
  }
  document.querySelectorAll("button[data-copy]").forEach(function (btn) {
    btn.addEventListener("click", function () {
      var src = document.querySelector(btn.dataset.copy);
      var done = btn.parentElement.querySelector("[data-copied]");
      if (!src || !navigator.clipboard) return;
      navigator.clipboard.writeText(src.textContent).then(function () {
        if (done) done.hidden = false;
      });
    });
  });
});
