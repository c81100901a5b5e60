// Article tables sort by a click on their header (mkdocs-material's "Data tables" recipe),
// with the tablesort script the build vendors; without it they stay as written.
(function () {
  function sortable() {
    if (!window.Tablesort) return;
    var tables = document.querySelectorAll("article table:not([class])");
    for (var i = 0; i < tables.length; i++) {
      if (tables[i].hasAttribute("data-kb-sortable")) continue;
      tables[i].setAttribute("data-kb-sortable", "");
      new window.Tablesort(tables[i]);
    }
  }
  // material's instant navigation swaps pages without loading this script again
  if (window.document$ && window.document$.subscribe) window.document$.subscribe(sortable);
  else if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", sortable);
  else sortable();
})();
