// A model card's metrics across versions, one chart per metric, drawn by the vendored
// Chart.js from the card's data-kb-chart block. The production versions are marked. The
// table under the charts holds the same numbers as text, so without Chart.js nothing is
// lost. Names reach the page as text only (textContent, canvas), never as markup.
(function () {
  var MARK = "#e53935";

  function color(name, fallback) {
    var value = getComputedStyle(document.body).getPropertyValue(name).trim();
    return value || fallback;
  }

  function figure(block, data, metric) {
    var production = data.production;
    var marked = data.versions.map(function (v) { return production.indexOf(v) >= 0; });
    var fig = document.createElement("figure");
    fig.className = "kb-chart__figure";
    var caption = document.createElement("figcaption");
    caption.textContent = metric.name;
    var box = document.createElement("div");
    box.className = "kb-chart__canvas";
    var canvas = document.createElement("canvas");
    canvas.setAttribute("role", "img");
    canvas.setAttribute("aria-label", metric.name + " by version: " + data.versions.map(
      function (v, i) { return "v" + v + " " + metric.values[i]; }).join(", "));
    box.appendChild(canvas);
    fig.appendChild(caption);
    fig.appendChild(box);
    block.appendChild(fig);
    var line = color("--md-accent-fg-color", "#526cfe");
    new window.Chart(canvas, {
      type: "line",
      data: {
        labels: data.versions.map(function (v) { return "v" + v; }),
        datasets: [{
          label: metric.name, data: metric.values, spanGaps: true, borderColor: line,
          pointRadius: marked.map(function (m) { return m ? 8 : 3; }),
          pointStyle: marked.map(function (m) { return m ? "rectRot" : "circle"; }),
          pointBackgroundColor: marked.map(function (m) { return m ? MARK : line; }),
          pointBorderColor: marked.map(function (m) { return m ? MARK : line; })
        }]
      },
      options: {
        responsive: true, maintainAspectRatio: false, animation: false,
        plugins: {
          legend: { display: false },
          tooltip: { callbacks: { label: function (ctx) {
            return metric.name + " = " + ctx.parsed.y + (marked[ctx.dataIndex] ? " (production)" : "");
          } } }
        }
      }
    });
  }

  function draw() {
    if (!window.Chart) return;
    window.Chart.defaults.color = color("--md-default-fg-color--light", "#666");
    window.Chart.defaults.borderColor = color("--md-default-fg-color--lightest", "#ddd");
    var blocks = document.querySelectorAll("[data-kb-chart]");
    for (var i = 0; i < blocks.length; i++) {
      var block = blocks[i];
      if (block.hasAttribute("data-kb-drawn")) continue;
      block.setAttribute("data-kb-drawn", "");
      var data;
      try { data = JSON.parse(block.getAttribute("data-kb-chart")); } catch (e) { continue; }
      for (var j = 0; j < data.metrics.length; j++) figure(block, data, data.metrics[j]);
      var key = document.createElement("p");
      key.className = "kb-chart__key";
      key.textContent = data.production.length
        ? "◆ red: the version in production (" + data.production.map(function (v) { return "v" + v; }).join(", ") + ")"
        : "No version of this model is in production.";
      block.appendChild(key);
    }
  }

  if (window.document$ && window.document$.subscribe) window.document$.subscribe(draw);
  else if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", draw);
  else draw();
})();
