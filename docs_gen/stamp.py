"""The line every page's footer shows: when the site was generated, and the graph state
it includes (the build's watermark, the newest change it read).

The line is not in the pages: a sync rewrites only the pages that changed, and a page
whose bytes held the time would change on every sync. The theme's footer
(``site/overrides/partials/copyright.html``) loads one small script instead, which every
build and sync writes into the built site, so every page shows the newest stamp and a
stopped ``kb docs watch`` shows as an old one.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from .escape import script_string

#: The script, in the built site.
STAMP = Path("assets/javascripts/kb-stamp.js")

_SCRIPT = """\
// Written by kb at every build and sync of this site: the footer's generated line.
(function () {{
  var text = {text};
  function fill() {{
    var lines = document.querySelectorAll("[data-kb-stamp]");
    for (var i = 0; i < lines.length; i++) lines[i].textContent = text;
  }}
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", fill);
  else fill();
  // material's instant navigation swaps pages without loading this script again
  if (window.document$ && window.document$.subscribe) window.document$.subscribe(fill);
}})();
"""


def iso(value: datetime) -> str:
    """UTC, ISO 8601, to the second: ``2024-05-20T12:00:00Z``."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def line(generated: datetime, watermark: datetime | None) -> str:
    if watermark is None:
        return f"Generated {iso(generated)} from an empty graph"
    return f"Generated {iso(generated)} from the graph as of {iso(watermark)}"


def write(out_dir: Path, generated: datetime, watermark: datetime | None) -> Path:
    """Write the stamp script into the built site ``out_dir``; returns its path."""
    path = out_dir / STAMP
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(_SCRIPT.format(text=script_string(line(generated, watermark))))
    tmp.replace(path)  # a reader never sees half a script
    return path
