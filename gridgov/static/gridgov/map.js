// Grid maps: draws the GeoJSON named by data-geojson on a Leaflet map; a click on a grid opens its page.
(function () {
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
            lyr.bindTooltip(p.name + " (" + p.code + ")" + (p.kind_label ? " · " + p.kind_label : ""));
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
  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-geojson]").forEach(draw);
  });
})();
