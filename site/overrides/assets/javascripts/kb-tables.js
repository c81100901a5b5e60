// Article tables sort by a click on their header (mkdocs-material's "Data tables" recipe,
// with the tablesort script the build vendors), and wide ones stack on narrow screens:
// each cell is labelled with its column's header (an attribute the style sheet shows).
(function () {
  function stackable(table) {
    var heads = table.querySelectorAll("thead th");
    if (heads.length < 4) return;
    var labels = [];
    for (var i = 0; i < heads.length; i++) labels.push(heads[i].textContent.trim());
    var rows = table.querySelectorAll("tbody tr");
    for (var r = 0; r < rows.length; r++) {
      for (var c = 0; c < rows[r].cells.length; c++) {
        rows[r].cells[c].setAttribute("data-label", labels[c] || "");
      }
    }
    table.setAttribute("data-kb-stack", "");
  }

  function prepare() {
    var tables = document.querySelectorAll("article table:not([class])");
    for (var i = 0; i < tables.length; i++) {
      if (tables[i].hasAttribute("data-kb-ready")) continue;
      tables[i].setAttribute("data-kb-ready", "");
      stackable(tables[i]);
      if (window.Tablesort) new window.Tablesort(tables[i]);
    }
  }
  // material's instant navigation swaps pages without loading this script again
  if (window.document$ && window.document$.subscribe) window.document$.subscribe(prepare);
  else if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", prepare);
  else prepare();
})();
