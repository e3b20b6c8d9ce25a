// The public report page: a searchable category picker, and the place, from the phone's location or a tap on
// the map (WGS84 into the hidden lon/lat/coord_sys), checked at once against the area served.
(function () {
  "use strict";

  function categoryPicker(form) {
    var search = document.getElementById("category-search");
    var results = document.getElementById("category-results");
    var select = form.querySelector("select[name=category]");
    if (!search || !results || !select) { return; }
    var options = Array.prototype.filter.call(select.options, function (o) { return o.value; }).map(function (o) {
      var group = o.parentNode.tagName === "OPTGROUP" ? o.parentNode.label : "";
      return { value: o.value, label: o.textContent, group: group,
               text: (o.textContent + " " + group + " " + (o.dataset.keywords || "")).toLowerCase() };
    });

    function choose(opt) {
      select.value = opt.value;
      select.dispatchEvent(new Event("change", { bubbles: true }));
      search.value = opt.label;
      results.innerHTML = "";
    }

    search.addEventListener("input", function () {
      var words = search.value.trim().toLowerCase().split(/\s+/).filter(Boolean);
      results.innerHTML = "";
      if (!words.length) { return; }
      var found = options.filter(function (o) {
        return words.every(function (w) { return o.text.indexOf(w) >= 0; });
      }).slice(0, 8);
      if (!found.length) {
        var li = document.createElement("li");
        li.textContent = form.dataset.msgNomatch;
        results.appendChild(li);
        return;
      }
      found.forEach(function (o) {
        var li = document.createElement("li");
        var button = document.createElement("button");
        button.type = "button";
        button.className = "secondary outline";
        button.textContent = o.group ? o.group + " / " + o.label : o.label;
        button.dataset.code = o.value;
        button.addEventListener("click", function () { choose(o); });
        li.appendChild(button);
        results.appendChild(li);
      });
    });
    search.addEventListener("keydown", function (e) {
      if (e.key === "Enter") {  // never submit the report from the search box
        e.preventDefault();
        var first = results.querySelector("button");
        if (first) { first.click(); }
      }
    });
  }

  function placePicker(form) {
    var el = document.getElementById("report-map");
    var status = document.getElementById("location-status");
    var lonInput = form.querySelector("input[name=lon]");
    var latInput = form.querySelector("input[name=lat]");
    var sysInput = form.querySelector("input[name=coord_sys]");
    var button = document.getElementById("use-location");
    if (!el || typeof L === "undefined") { return; }
    var msgs = form.dataset;
    var map = L.map(el, { attributionControl: !!el.dataset.tiles, zoomSnap: 0.25 });
    if (el.dataset.tiles) {
      L.tileLayer(el.dataset.tiles, { maxZoom: 19, attribution: el.dataset.attribution || "" }).addTo(map);
    }
    var bounds = (el.dataset.bounds || "").split(",").map(Number);
    if (bounds.length === 4 && bounds.every(isFinite)) {
      map.fitBounds([[bounds[1], bounds[0]], [bounds[3], bounds[2]]], { padding: [10, 10] });
    } else {
      map.setView([31.30, 120.60], 12);
    }
    var marker = null;
    var grids = null;
    var pending = null;

    function setStatus(text, bad) {
      status.textContent = text;
      status.classList.toggle("error", !!bad);
    }

    function check(lon, lat) {
      var url = msgs.locateUrl + "?lon=" + lon + "&lat=" + lat + "&coord_sys=wgs84";
      fetch(url, { credentials: "same-origin" }).then(function (r) { return r.json(); }).then(function (d) {
        if (d.inside) { setStatus(msgs.msgInside.replace("%s", d.grid), false); }
        else { setStatus(msgs.msgOutside, true); }
      }).catch(function () { /* the server checks again on sending */ });
    }

    function place(lat, lon, zoom) {
      lonInput.value = lon.toFixed(7);
      latInput.value = lat.toFixed(7);
      sysInput.value = "wgs84";
      if (marker) { marker.setLatLng([lat, lon]); }
      else {
        marker = L.marker([lat, lon], { draggable: true, keyboard: true }).addTo(map);
        marker.on("dragend", function () { var p = marker.getLatLng(); place(p.lat, p.lng, false); });
      }
      if (zoom) { map.setView([lat, lon], Math.max(map.getZoom(), 17)); }
      el.dataset.placed = "1";
      check(lonInput.value, latInput.value);
    }

    function loadGrids() {
      if (pending) { pending.abort(); }
      pending = new AbortController();
      var url = msgs.areaUrl + "?bbox=" + map.getBounds().toBBoxString();
      fetch(url, { credentials: "same-origin", signal: pending.signal })
        .then(function (r) { return r.json(); })
        .then(function (data) {
          if (grids) { map.removeLayer(grids); grids = null; }
          var hint = document.getElementById("map-hint");
          if (hint) { hint.textContent = data.too_many ? msgs.msgZoom : ""; }
          grids = L.geoJSON(data, {
            interactive: false,
            style: function () { return { color: "#334155", weight: 1, fillColor: "#64748b", fillOpacity: 0.15 }; }
          }).addTo(map);
          if (marker) { marker.bringToFront && marker.bringToFront(); }
          el.dataset.ready = "1";
        })
        .catch(function () { /* aborted or offline: the map still takes a tap */ });
    }

    map.on("moveend", loadGrids);
    map.on("click", function (e) { place(e.latlng.lat, e.latlng.lng, false); });
    loadGrids();

    if (lonInput.value && latInput.value && sysInput.value === "wgs84") {
      place(parseFloat(latInput.value), parseFloat(lonInput.value), true);
    }

    button.addEventListener("click", function () {
      if (!navigator.geolocation) { setStatus(msgs.msgUnsupported, true); return; }
      setStatus(msgs.msgLocating, false);
      navigator.geolocation.getCurrentPosition(function (pos) {
        place(pos.coords.latitude, pos.coords.longitude, true);  // the Geolocation API gives WGS84
      }, function () {
        setStatus(msgs.msgDenied, true);
      }, { enableHighAccuracy: true, timeout: 15000, maximumAge: 60000 });
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    var form = document.getElementById("report-form");
    if (!form) { return; }
    categoryPicker(form);
    placePicker(form);
  });
})();
