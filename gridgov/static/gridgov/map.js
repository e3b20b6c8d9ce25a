// Grid maps: draws the GeoJSON named by data-geojson on a Leaflet map; a click on a grid opens its page.
(function () {
  // Leaflet writes a string tooltip as HTML: names come from imported files, so pass a text node.
  function text(value) { var span = document.createElement("span"); span.textContent = value; return span; }

  function draw(el) {
    var tiles = el.dataset.tiles;
    var map = L.map(el, { preferCanvas: false, attributionControl: !!tiles, zoomSnap: 0.25 });
    if (tiles) {
      L.tileLayer(tiles, { maxZoom: 19, attribution: el.dataset.attribution || "" }).addTo(map);
    }
    fetch(el.dataset.geojson, { credentials: "same-origin" })
      .then(function (r) { return r.json(); })
      .then(function (data) {
        var layer = L.geoJSON(data, {
          style: function (f) {
            return { color: "#334155", weight: 1, fillColor: f.properties.color || el.dataset.color || "#64748b", fillOpacity: 0.45 };
          },
          onEachFeature: function (f, lyr) {
            var p = f.properties;
            lyr.bindTooltip(text(p.name + " (" + p.code + ")" + (p.kind_label ? " · " + p.kind_label : "")));
            if (p.url) {
              lyr.on("click", function () { window.location.href = p.url; });
            }
            // A stable hook for browser tests and assistive tech: the path carries the grid code.
            lyr.on("add", function () {
              if (lyr.getElement) {
                var node = lyr.getElement();
                if (node) { node.setAttribute("data-grid", p.code); node.setAttribute("aria-label", p.name); }
              }
            });
          }
        }).addTo(map);
        if (layer.getLayers().length) { map.fitBounds(layer.getBounds(), { padding: [10, 10] }); }
        else { map.setView([31.30, 120.60], 12); }
        el.dataset.ready = "1";
      });
  }
  // Point mode (the case page): a marker at data-lon/data-lat, over the outline whose GeoJSON geometry is in
  // the json_script element named by data-outline (optional).
  function drawPoint(el) {
    var lon = parseFloat(el.dataset.lon), lat = parseFloat(el.dataset.lat);
    if (isNaN(lon) || isNaN(lat)) { return; }
    var tiles = el.dataset.tiles;
    var map = L.map(el, { attributionControl: !!tiles, zoomSnap: 0.25 });
    if (tiles) {
      L.tileLayer(tiles, { maxZoom: 19, attribution: el.dataset.attribution || "" }).addTo(map);
    }
    // Set the view first: Leaflet draws layers added to a map that has no view yet wrongly.
    var bounds = L.latLngBounds([[lat, lon], [lat, lon]]);
    var outline = null;
    var source = el.dataset.outline && document.getElementById(el.dataset.outline);
    if (source) {
      try {
        outline = L.geoJSON(JSON.parse(source.textContent), {
          interactive: false, style: { color: "#334155", weight: 1, fillColor: "#64748b", fillOpacity: 0.2 }
        });
        if (outline.getLayers().length) { bounds.extend(outline.getBounds()); } else { outline = null; }
      } catch (e) { outline = null; /* no outline: the point alone */ }
    }
    map.fitBounds(bounds, { padding: [20, 20], maxZoom: 17 });
    if (outline) { outline.addTo(map); }
    var marker = L.circleMarker([lat, lon], { radius: 8, color: "#7f1d1d", weight: 2, fillColor: "#dc2626", fillOpacity: 0.9 })
      .addTo(map);
    if (el.dataset.label) { marker.bindTooltip(text(el.dataset.label)); }
    el.dataset.ready = "1";
  }
  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-geojson]").forEach(draw);
    document.querySelectorAll("[data-lon][data-lat]:not([data-geojson])").forEach(drawPoint);
  });
})();
