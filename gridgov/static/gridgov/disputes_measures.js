// The measures page: a bar chart of the resolved disputes by level, from the json_script named by data-chart.
(function () {
  "use strict";
  document.addEventListener("DOMContentLoaded", function () {
    if (typeof echarts === "undefined") { return; }
    document.querySelectorAll("[data-chart]").forEach(function (el) {
      var source = document.getElementById(el.dataset.chart);
      if (!source) { return; }
      var data = JSON.parse(source.textContent);
      var chart = echarts.init(el);
      chart.setOption({
        title: { text: data.title, textStyle: { fontSize: 14 } },
        tooltip: {},
        grid: { left: 40, right: 10, bottom: 30, top: 40 },
        xAxis: { type: "category", data: data.labels },
        yAxis: { type: "value", minInterval: 1 },
        series: [{ type: "bar", data: data.values, itemStyle: { color: "#2563eb" } }]
      });
      window.addEventListener("resize", function () { chart.resize(); });
      el.dataset.ready = "1";
    });
  });
})();
