// rpzfw reports: the range picker's custom fields and the timeline chart
// (uPlot). The page carries the data in a JSON script tag; nothing here
// is inline, so the Content-Security-Policy stays default-src 'self'.
(function () {
  "use strict";

  // The custom from/to fields show only for the custom range (without
  // this script they are always shown, and still work).
  function customRange() {
    document.querySelectorAll("select[data-custom-range]").forEach(function (sel) {
      var form = sel.form;
      function update() {
        var custom = sel.value === "custom";
        form.querySelectorAll(".custom-range").forEach(function (el) {
          el.hidden = !custom;
          el.querySelectorAll("input").forEach(function (i) { i.disabled = !custom; });
        });
      }
      sel.addEventListener("change", update);
      update();
    });
  }

  var colors = { blocked: "#cf222e", alerted: "#8250df", passed: "#8c959f" };

  function timeline() {
    var el = document.getElementById("timeline");
    var src = document.getElementById("timeline-data");
    if (!el || !src || typeof uPlot === "undefined") {
      return;
    }
    var tl;
    try {
      tl = JSON.parse(src.textContent);
    } catch (e) {
      el.textContent = "The timeline could not be read.";
      return;
    }
    var points = tl.points || [];
    if (points.length === 0) {
      el.textContent = "No resolutions in this range.";
      return;
    }
    var xs = [], blocked = [], alerted = [], passed = [];
    points.forEach(function (p) {
      xs.push(Date.parse(p.at) / 1000);
      blocked.push(p.blocked);
      alerted.push(p.alerted);
      passed.push(p.passed);
    });
    var monitor = el.getAttribute("data-monitor") === "true";
    function series(label, color) {
      return { label: label, stroke: color, width: 2, fill: color + "22", points: { show: xs.length < 60 } };
    }
    var opts = {
      width: Math.max(280, el.clientWidth),
      height: 260,
      scales: { x: { time: true } },
      axes: [{}, { label: "resolutions", size: 60 }],
      series: [
        { label: "time (UTC)", value: "{YYYY}-{MM}-{DD} {HH}:{mm}" },
        series("blocked", colors.blocked),
        series(monitor ? "would have been blocked" : "alerted", colors.alerted),
        series("passed", colors.passed)
      ],
      tzDate: function (ts) { return uPlot.tzDate(new Date(ts * 1000), "Etc/UTC"); }
    };
    el.textContent = "";
    var plot = new uPlot(opts, [xs, blocked, alerted, passed], el);
    el.setAttribute("data-drawn", "true");
    var last = el.clientWidth;
    window.addEventListener("resize", function () {
      if (el.clientWidth !== last) {
        last = el.clientWidth;
        plot.setSize({ width: Math.max(280, last), height: 260 });
      }
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    customRange();
    timeline();
  });
})();
