// floq dashboard: live regions (server-sent events, polling where they fail), the timeline
// of a flow run's task runs and the queues' throughput charts, drawn in SVG. No build step.
(function () {
  "use strict";
  var SVG = "http://www.w3.org/2000/svg";
  var live = document.getElementById("live");
  var base = document.body.dataset.base || "";
  var mode = document.getElementById("live-mode");

  function el(name, attrs, parent) {
    var node = document.createElementNS(SVG, name);
    Object.keys(attrs).forEach(function (k) { node.setAttribute(k, attrs[k]); });
    if (parent) parent.appendChild(node);
    return node;
  }

  function drawTimeline(box) {
    var data = JSON.parse(box.dataset.timeline || "{}");
    box.textContent = "";
    if (!data.lanes || !data.lanes.length) {
      box.textContent = "no task run has started yet";
      box.className = "timeline muted";
      return;
    }
    var label = 200, row = 12, gap = 8, width = Math.max((box.clientWidth || 900) - 20, 400);
    var span = data.span > 0 ? data.span : 1, scale = (width - label - 10) / span;
    var tops = [], height = 0;
    data.lanes.forEach(function (lane) { tops.push(height); height += lane.rows * row + gap; });
    height += 22;
    var svg = el("svg", {width: width, height: height, "class": "gantt", role: "img"}, box);
    for (var t = 0; t <= 4; t++) {
      var x = label + (width - label - 10) * t / 4;
      var at = span * t / 4;
      el("line", {x1: x, x2: x, y1: 0, y2: height - 18, "class": "tick"}, svg);
      el("text", {x: x, y: height - 4, "class": "axis", "text-anchor": t === 4 ? "end" : "middle"},
         svg).textContent = span < 2 ? (at * 1000).toFixed(span < 0.02 ? 1 : 0) + " ms" : at.toFixed(1) + " s";
    }
    data.lanes.forEach(function (lane, i) {
      var y = tops[i];
      if (i) el("line", {x1: 0, x2: width, y1: y - gap / 2, y2: y - gap / 2, "class": "sep"}, svg);
      var name = lane.worker.length > 26 ? "\u2026" + lane.worker.slice(-25) : lane.worker;
      var text = el("text", {x: 4, y: y + Math.min(lane.rows * row, 24) / 2 + 4, "class": "lane"}, svg);
      text.textContent = name;
      el("title", {}, text).textContent = lane.worker;
      lane.bars.forEach(function (bar) {
        var w = Math.max(2, (bar.to - bar.from) * scale);
        var rect = el("rect", {x: label + bar.from * scale, y: y + bar.row * row + 1, width: w,
                               height: row - 2, rx: 2, "class": "bar st-" + bar.state}, svg);
        el("title", {}, rect).textContent = bar.name + " \u00b7 " + bar.state + " \u00b7 " +
          (bar.to - bar.from).toFixed(2) + " s";
      });
    });
  }

  function drawChart(box) {
    var points = JSON.parse(box.dataset.chart || "[]");
    box.textContent = "";
    var w = 160, h = 28;
    var svg = el("svg", {width: w, height: h, "class": "spark"}, box);
    if (points.length < 2) { return; }
    var t0 = points[0][0], t1 = points[points.length - 1][0];
    var top = Math.max.apply(null, points.map(function (p) { return p[1]; })) || 1;
    var path = points.map(function (p) {
      var x = (p[0] - t0) / ((t1 - t0) || 1) * (w - 2) + 1;
      return x.toFixed(1) + "," + (h - 2 - p[1] / top * (h - 4)).toFixed(1);
    }).join(" ");
    el("polyline", {points: path, "class": "line"}, svg);
  }

  function draw() {
    document.querySelectorAll("[data-timeline]").forEach(drawTimeline);
    document.querySelectorAll("[data-chart]").forEach(drawChart);
  }

  function swap(html) {
    if (html !== live.dataset.last) {
      live.dataset.last = html;
      live.innerHTML = html;
      draw();
    }
    document.body.dataset.updated = String(Date.now());
  }

  function poll() {
    var page = live.dataset.page;
    var url = base + page + (page.indexOf("?") < 0 ? "?" : "&") + "fragment=1";
    if (mode) mode.textContent = "live (polling)";
    setInterval(function () {
      fetch(url, {credentials: "same-origin"}).then(function (r) {
        return r.ok ? r.text() : null;
      }).then(function (html) { if (html !== null) swap(html); }).catch(function () {});
    }, 2000);
  }

  function follow() {
    if (!live) return;
    if (!window.EventSource) { poll(); return; }
    var opened = false;
    var source = new EventSource(base + "/events?page=" + encodeURIComponent(live.dataset.page));
    source.onmessage = function (event) {
      opened = true;
      if (mode) mode.textContent = "live";
      swap(JSON.parse(event.data));
    };
    function fallBack() {
      if (!opened) { opened = true; source.close(); poll(); }
    }
    source.onerror = fallBack;  // never got through
    setTimeout(fallBack, 5000);  // nothing within 5 s: a proxy (or a WSGI bridge) that buffers
  }

  draw();
  follow();
})();
