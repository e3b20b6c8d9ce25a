// Case screens: the searchable category picker, the location picker (the phone's location or a tap on the
// map) of the intake forms, and the console's map of open cases. Texts come from data-* attributes that the
// templates translate.
(function () {
  "use strict";

  // Tooltips take HTML: give them text nodes, never names from the data as markup.
  function text(value) { var span = document.createElement("span"); span.textContent = value; return span; }

  // A Leaflet map with the optional tile layer and the grids of data-grids drawn lightly underneath.
  function baseMap(el) {
    var map = L.map(el, { attributionControl: !!el.dataset.tiles, zoomSnap: 0.25 });
    if (el.dataset.tiles) {
      L.tileLayer(el.dataset.tiles, { maxZoom: 19, attribution: el.dataset.attribution || "" }).addTo(map);
    }
    map.setView([31.30, 120.60], 12);
    var ready = el.dataset.grids ? fetch(el.dataset.grids, { credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.json() : { features: [] }; })
      .then(function (data) {
        var layer = L.geoJSON(data, {
          style: function (f) {
            return { color: "#334155", weight: 1, fillColor: f.properties.color || "#94a3b8", fillOpacity: 0.25 };
          },
          onEachFeature: function (f, lyr) { lyr.bindTooltip(text(f.properties.name + " (" + f.properties.code + ")")); }
        }).addTo(map);
        if (layer.getLayers().length) { map.fitBounds(layer.getBounds(), { padding: [10, 10] }); }
        return layer;
      }).catch(function () { return null; }) : Promise.resolve(null);
    return { map: map, ready: ready };
  }

  // --- the category picker: narrow the <select> to the categories matching every typed word ---
  function categorySearch(input) {
    var select = document.getElementById(input.dataset.categorySearch);
    if (!select) { return; }
    var count = input.parentNode.querySelector("[data-category-count]");
    var original = Array.prototype.map.call(select.children, function (n) { return n.cloneNode(true); });
    input.addEventListener("input", function () {
      var words = input.value.trim().toLowerCase().split(/\s+/).filter(Boolean);
      var current = select.value;
      var matches = [];
      select.innerHTML = "";
      original.forEach(function (node) {
        if (node.tagName !== "OPTGROUP") { select.appendChild(node.cloneNode(true)); return; }
        var group = node.cloneNode(false);
        Array.prototype.forEach.call(node.children, function (opt) {
          var text = (opt.dataset.search || opt.textContent).toLowerCase();
          if (words.every(function (w) { return text.indexOf(w) >= 0; })) {
            group.appendChild(opt.cloneNode(true));
            matches.push(opt.value);
          }
        });
        if (group.children.length) { select.appendChild(group); }
      });
      if (matches.indexOf(current) >= 0) { select.value = current; }
      else if (matches.length === 1) { select.value = matches[0]; }
      else { select.value = ""; }
      if (count) { count.textContent = words.length ? matches.length + " " + (input.dataset.countText || "") : ""; }
      if (select.value !== current) { select.dispatchEvent(new Event("change", { bubbles: true })); }
    });
  }

  // --- the location picker ---
  function locationPicker(box) {
    var lon = document.getElementById(box.dataset.lon);
    var lat = document.getElementById(box.dataset.lat);
    var sys = document.getElementById(box.dataset.coordSys);
    var status = box.querySelector("[data-location-status]");
    var mapEl = box.querySelector("[data-picker-map]");
    var base = baseMap(mapEl);
    var marker = null;

    function show(lng, lt) {
      if (marker) { marker.setLatLng([lt, lng]); }
      else { marker = L.circleMarker([lt, lng], { radius: 8, color: "#b91c1c", weight: 3, fillOpacity: 0.6 }).addTo(base.map); }
    }
    function describe() {
      var text = box.dataset.setText + " " + lon.value + ", " + lat.value;
      if (sys && sys.value && sys.value !== "wgs84") { text += " (" + sys.value.toUpperCase() + ", " + box.dataset.convertedText + ")"; }
      status.textContent = text;
    }
    function set(lng, lt, zoom) {
      lon.value = lng.toFixed(7);
      lat.value = lt.toFixed(7);
      if (sys) { sys.value = "wgs84"; }
      show(lng, lt);
      if (zoom) { base.map.setView([lt, lng], Math.max(base.map.getZoom(), 16)); }
      describe();
      mapEl.dataset.point = lon.value + "," + lat.value;
    }
    base.map.on("click", function (e) { set(e.latlng.lng, e.latlng.lat, false); });
    // typed coordinates: drawn when they are WGS84 (GCJ-02/BD-09 ones are converted on the server)
    function typed() {
      var lng = parseFloat(lon.value), lt = parseFloat(lat.value);
      if (isNaN(lng) || isNaN(lt)) { return; }
      describe();
      if (!sys || sys.value === "wgs84") { show(lng, lt); }
    }
    [lon, lat, sys].forEach(function (el) { if (el) { el.addEventListener("change", typed); } });
    base.ready.then(typed);

    var button = box.querySelector("[data-locate]");
    if (button) {
      button.addEventListener("click", function () {
        if (!navigator.geolocation) { status.textContent = box.dataset.unsupportedText; return; }
        status.textContent = box.dataset.locatingText;
        navigator.geolocation.getCurrentPosition(function (pos) {
          set(pos.coords.longitude, pos.coords.latitude, true);
        }, function () {
          status.textContent = box.dataset.failedText;
        }, { enableHighAccuracy: true, timeout: 15000, maximumAge: 30000 });
      });
    }
  }

  // --- the console's map: the open cases of the current filter as points ---
  var STATE_COLORS = { reported: "#2563eb", registered: "#7c3aed", dispatched: "#0891b2", in_progress: "#0d9488",
                       suspended: "#64748b", handled: "#ca8a04", verified: "#16a34a" };

  function caseMap(el) {
    var base = baseMap(el);
    var points = L.featureGroup().addTo(base.map);
    var note = document.querySelector("[data-map-note]");
    function load(url) {
      if (!url) { return; }
      fetch(url, { credentials: "same-origin" })
        .then(function (r) { return r.ok ? r.json() : { features: [] }; })
        .then(function (data) {
          points.clearLayers();
          L.geoJSON(data, {
            pointToLayer: function (f, latlng) {
              var p = f.properties;
              return L.circleMarker(latlng, { radius: 6, weight: p.overdue ? 3 : 1, color: p.overdue ? "#dc2626" : "#1e293b",
                                              fillColor: STATE_COLORS[p.state] || "#334155", fillOpacity: 0.85 });
            },
            onEachFeature: function (f, lyr) {
              var p = f.properties;
              lyr.bindTooltip(text(p.number + " · " + p.category + " · " + p.state_label));
              lyr.on("click", function () { window.location.href = p.url; });
            }
          }).addTo(points);
          base.ready.then(function () {
            var bounds = points.getBounds();  // no open case: an empty layer, no bounds to fit
            if (bounds.isValid()) { base.map.fitBounds(bounds, { padding: [20, 20], maxZoom: 17 }); }
          });
          el.dataset.count = String((data.features || []).length);
          if (note && data.truncated) { note.textContent = el.dataset.truncatedText; }
          el.dataset.ready = "1";
        });
    }
    load(el.dataset.casePoints);
    document.body.addEventListener("htmx:afterSwap", function () {
      var table = document.querySelector("[data-case-table][data-map-url]");
      if (table) { load(table.dataset.mapUrl); }
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-category-search]").forEach(categorySearch);
    if (typeof L === "undefined") { return; }
    document.querySelectorAll("[data-location-picker]").forEach(locationPicker);
    document.querySelectorAll("[data-case-points]").forEach(caseMap);
  });
})();
