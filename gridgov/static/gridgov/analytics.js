// The governance-effectiveness screens: ECharts charts from json_script data ([data-echart]), the dashboard's
// Leaflet map ([data-analytics-map]: the node's children shaded by their rank, each a link one level down; the
// hotspot hexagons; the open cases, overdue ones in red) and selects that submit their form ([data-autosubmit]).
// Names and titles come from users: tooltips and popups are built as text nodes, never as markup.
(function () {
  "use strict";

  function text(value) { var span = document.createElement("span"); span.textContent = value; return span; }

  // --- charts -------------------------------------------------------------------------------------------------
  function chart(el) {
    if (typeof echarts === "undefined" || el.dataset.drawn) { return; }
    el.dataset.drawn = "1";
    var source = document.getElementById(el.dataset.echart);
    if (!source) { return; }
    var data = JSON.parse(source.textContent);
    var dark = !!el.dataset.dark;
    var instance = echarts.init(el, dark ? "dark" : null);
    var bar = el.dataset.kind === "bar";
    var colours = ["#2563eb", "#16a34a", "#f59e0b", "#dc2626"];
    instance.setOption({
      backgroundColor: "transparent",
      title: { text: data.title, textStyle: { fontSize: dark ? 18 : 14 } },
      tooltip: { trigger: "axis" },
      legend: { top: 0, right: 0 },
      grid: { left: 44, right: 12, bottom: bar ? 80 : 30, top: 44 },
      xAxis: { type: "category", data: data.labels, axisLabel: bar ? { rotate: 35, interval: 0 } : {} },
      yAxis: { type: "value", minInterval: 1 },
      series: data.series.map(function (s, i) {
        return { name: s.name, type: bar ? "bar" : "line", data: s.data, showSymbol: data.labels.length < 40,
                 itemStyle: { color: colours[i % colours.length] } };
      })
    });
    window.addEventListener("resize", function () { instance.resize(); });
    el.dataset.ready = "1";
  }

  // --- the map --------------------------------------------------------------------------------------------------
  function getJSON(url) {
    return fetch(url, { credentials: "same-origin" }).then(function (r) { return r.ok ? r.json() : { features: [] }; });
  }

  function hexColour(n, max) {
    var t = max > 0 ? n / max : 0;
    return t > 0.66 ? "#b91c1c" : t > 0.33 ? "#f97316" : "#fde68a";
  }

  function casePopup(p, el) {
    var box = document.createElement("div");
    var number = document.createElement("strong");
    number.textContent = p.number;
    box.appendChild(number);
    box.appendChild(document.createElement("br"));
    box.appendChild(document.createTextNode([p.category, p.state_label, p.overdue ? el.dataset.overdueText : ""]
      .filter(Boolean).join(" · ")));
    if (p.url) {
      box.appendChild(document.createElement("br"));
      var link = document.createElement("a");
      link.href = p.url;
      link.textContent = el.dataset.openText || p.number;
      box.appendChild(link);
    }
    return box;
  }

  function drawMap(el) {
    if (typeof L === "undefined" || el.dataset.drawn) { return; }
    el.dataset.drawn = "1";
    var map = L.map(el, { attributionControl: !!el.dataset.tiles, zoomSnap: 0.25 });
    if (el.dataset.tiles) {
      L.tileLayer(el.dataset.tiles, { maxZoom: 19, attribution: el.dataset.attribution || "" }).addTo(map);
    }
    map.setView([31.30, 120.60], 11);
    var note = el.parentNode.querySelector("[data-map-note]");
    var nodes = L.featureGroup().addTo(map);
    var hexes = L.featureGroup().addTo(map);
    var cases = L.featureGroup().addTo(map);
    var loads = [];

    // the children: click to open the dashboard one level down
    loads.push(getJSON(el.dataset.nodes).then(function (data) {
      L.geoJSON(data, {
        style: function (f) {
          var p = f.properties;
          return { color: "#334155", weight: p.self ? 2 : 1, fillColor: p.colour || "#94a3b8", fillOpacity: p.self ? 0.1 : 0.3 };
        },
        onEachFeature: function (f, layer) {
          var p = f.properties;
          var tip = p.name + (p.value_text ? " · " + p.kpi_label + " " + p.value_text : "") + (p.rank ? " · #" + p.rank : "");
          layer.bindTooltip(text(tip), { sticky: true });
          if (p.url) { layer.on("click", function () { window.location.href = p.url; }); }
          layer.on("add", function () {
            var node = layer.getElement && layer.getElement();
            if (node) { node.setAttribute("data-node", p.code); node.setAttribute("aria-label", p.name); }
          });
        }
      }).addTo(nodes);
      nodes.bringToBack();
    }));

    // hotspots: drawn over the children but not clickable, so a click reaches the area below
    if (el.dataset.hotspots) {
      loads.push(getJSON(el.dataset.hotspots).then(function (data) {
        var max = data.max || 0;
        L.geoJSON(data, {
          interactive: false,
          style: function (f) {
            return { color: "#7c2d12", weight: 0.5, fillColor: hexColour(f.properties.reported, max), fillOpacity: 0.45 };
          }
        }).addTo(hexes);
        el.dataset.hexagons = String((data.features || []).length);
      }));
    }

    loads.push(getJSON(el.dataset.cases).then(function (data) {
      L.geoJSON(data, {
        pointToLayer: function (f, latlng) {
          var late = f.properties.overdue;
          return L.circleMarker(latlng, { radius: late ? 6 : 5, weight: 1, color: "#0f172a",
                                          fillColor: late ? "#dc2626" : "#2563eb", fillOpacity: 0.9 });
        },
        onEachFeature: function (f, layer) {
          layer.bindPopup(casePopup(f.properties, el));
          layer.on("add", function () {
            var node = layer.getElement && layer.getElement();
            if (node) { node.setAttribute("data-case", f.properties.number); }
          });
        }
      }).addTo(cases);
      el.dataset.casesCount = String((data.features || []).length);
      if (note && data.truncated) { note.textContent = el.dataset.truncatedText || ""; }
    }));

    Promise.all(loads).then(function () {
      var bounds = nodes.getBounds();
      if (!bounds.isValid()) { bounds = hexes.getBounds(); }
      if (!bounds.isValid()) { bounds = cases.getBounds(); }
      if (bounds.isValid()) { map.fitBounds(bounds, { padding: [10, 10], maxZoom: 17 }); }
      el.dataset.ready = "1";
    }).catch(function () { el.dataset.ready = "error"; });
  }

  function init(root) {
    root.querySelectorAll("[data-echart]").forEach(chart);
    root.querySelectorAll("[data-analytics-map]").forEach(drawMap);
  }

  document.addEventListener("DOMContentLoaded", function () { init(document); });
  document.addEventListener("htmx:load", function (e) { if (e.target && e.target.querySelectorAll) { init(e.target); } });
  document.addEventListener("change", function (e) {
    var el = e.target;
    if (el && el.matches && el.matches("[data-autosubmit]") && el.form) { el.form.submit(); }
  });
})();
