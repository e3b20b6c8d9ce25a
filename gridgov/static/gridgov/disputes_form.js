// The dispute registration form: "Add a party" adds a row from the formset's empty form (without JavaScript the
// server adds it), and the registry search of each row runs through htmx as the user types.
(function () {
  "use strict";
  document.documentElement.classList.add("js");

  function addRow(box) {
    var prefix = box.dataset.prefix;
    var total = box.querySelector("input[name='" + prefix + "-TOTAL_FORMS']");
    var template = box.querySelector("template[data-party-template]");
    var list = box.querySelector("[data-party-list]");
    if (!total || !template || !list) { return false; }
    var index = parseInt(total.value, 10) || 0;
    var holder = document.createElement("div");
    holder.innerHTML = template.innerHTML.replace(/__prefix__/g, String(index));
    var row = holder.firstElementChild;
    if (!row) { return false; }
    var legend = row.querySelector("legend");
    if (legend) { legend.textContent = legend.textContent.trim() + " " + (index + 1); }
    list.appendChild(row);
    total.value = String(index + 1);
    if (window.htmx) { window.htmx.process(row); }
    var first = row.querySelector("input[type=search]");
    if (first) { first.focus(); }
    return true;
  }

  document.addEventListener("DOMContentLoaded", function () {
    // the map picker starts folded away: Leaflet measures its box again when it is unfolded
    document.querySelectorAll("details[data-location-picker]").forEach(function (box) {
      box.addEventListener("toggle", function () {
        if (box.open) { window.dispatchEvent(new Event("resize")); }
      });
    });
    document.querySelectorAll("[data-parties]").forEach(function (box) {
      var button = box.querySelector("[data-add-party]");
      if (!button) { return; }
      button.addEventListener("click", function (event) {
        if (addRow(box)) { event.preventDefault(); }
      });
    });
  });
})();
