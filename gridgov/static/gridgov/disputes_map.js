// The disputes map: circle markers coloured by risk grade from the GeoJSON of data-dispute-map, over the
// user's grids; a popup with number, title and state links to the dispute's page. Popup texts are built as DOM
// nodes (titles come from users: never inserted as markup). "Include closed" reloads with ?all=1.
(function () {
  "use strict";

  function text(value) { var span = document.createElement("span"); span.textContent = value; return span; }

  function popup(p, openText) {
    var box = document.createElement("div");
    var number = document.createElement("strong");
    number.textContent = p.number;
    box.appendChild(number);
    box.appendChild(document.createElement("br"));
    box.appendChild(document.createTextNode(p.title || ""));
    box.appendChild(document.createElement("br"));
    var small = document.createElement("small");
    small.textContent = [p.grade_label, p.state_label, p.type_label].filter(Boolean).join(" · ");
    box.appendChild(small);
    if (p.url) {
      box.appendChild(document.createElement("br"));
      var link = document.createElement("a");
      link.href = p.url;
      link.textContent = openText || p.number;
      box.appendChild(link);
    }
    return box;
  }

  function draw(el) {
    var map = L.map(el, { attributionControl: !!el.dataset.tiles, zoomSnap: 0.25 });
    if (el.dataset.tiles) {
      L.tileLayer(el.dataset.tiles, { maxZoom: 19, attribution: el.dataset.attribution || "" }).addTo(map);
    }
    map.setView([31.30, 120.60], 12);
    var gridsDrawn = false;
    if (el.dataset.grids) {
      fetch(el.dataset.grids, { credentials: "same-origin" })
        .then(function (r) { return r.ok ? r.json() : { features: [] }; })
        .then(function (data) {
          var layer = L.geoJSON(data, {
            style: function () { return { color: "#334155", weight: 1, fillColor: "#94a3b8", fillOpacity: 0.15 }; },
            onEachFeature: function (f, lyr) { lyr.bindTooltip(text(f.properties.name + " (" + f.properties.code + ")")); }
          }).addTo(map);
          layer.bringToBack();
          if (!gridsDrawn && layer.getLayers().length && !points.getLayers().length) {
            map.fitBounds(layer.getBounds(), { padding: [10, 10] });
          }
          gridsDrawn = true;
        }).catch(function () { /* the points alone */ });
    }
    var points = L.featureGroup().addTo(map);
    var count = document.querySelector("[data-map-count]");
    var closed = document.querySelector("[data-include-closed]");

    function load() {
      var url = el.dataset.disputeMap + (closed && closed.checked ? "?all=1" : "");
      fetch(url, { credentials: "same-origin" })
        .then(function (r) { return r.ok ? r.json() : { features: [] }; })
        .then(function (data) {
          points.clearLayers();
          L.geoJSON(data, {
            pointToLayer: function (f, latlng) {
              var p = f.properties;
              return L.circleMarker(latlng, {
                radius: p.exact ? 7 : 9, weight: p.exact ? 1 : 3, color: p.exact ? "#1e293b" : p.colour,
                fillColor: p.colour, fillOpacity: p.exact ? 0.9 : 0.35
              });
            },
            onEachFeature: function (f, lyr) {
              lyr.bindPopup(popup(f.properties, el.dataset.openText));
              lyr.on("add", function () {
                var node = lyr.getElement && lyr.getElement();
                if (node) { node.setAttribute("data-dispute", f.properties.number); }
              });
            }
          }).addTo(points);
          var bounds = points.getBounds();
          if (bounds.isValid()) { map.fitBounds(bounds, { padding: [20, 20], maxZoom: 17 }); }
          var n = (data.features || []).length;
          el.dataset.count = String(n);
          if (count) { count.textContent = n + " " + (el.dataset.countText || ""); }
          el.dataset.ready = "1";
        });
    }
    if (closed) { closed.addEventListener("change", load); }
    load();
  }

  document.addEventListener("DOMContentLoaded", function () {
    if (typeof L === "undefined") { return; }
    document.querySelectorAll("[data-dispute-map]").forEach(draw);
  });
})();
