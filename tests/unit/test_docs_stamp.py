"""The footer's generated line and the script that carries it."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

from docs_gen import stamp
from docs_gen.escape import script_string


def test_the_line_is_utc_iso_8601_to_the_second() -> None:
    generated = datetime(2024, 5, 20, 14, 0, 5, 123456, tzinfo=timezone(timedelta(hours=2)))
    mark = datetime(2024, 5, 20, 11, 59, 59, tzinfo=UTC)
    assert stamp.line(generated, mark) == (
        "Generated 2024-05-20T12:00:05Z from the graph as of 2024-05-20T11:59:59Z")
    assert stamp.line(generated, None) == "Generated 2024-05-20T12:00:05Z from an empty graph"


def test_the_script_holds_the_line_as_a_string(tmp_path: Path) -> None:
    at = datetime(2024, 5, 20, 12, 0, tzinfo=UTC)
    path = stamp.write(tmp_path, at, at)
    assert path == tmp_path / stamp.STAMP
    script = path.read_text()
    assert f"var text = {json.dumps(stamp.line(at, at))};" in script
    assert not list(path.parent.glob("*.tmp"))


def test_a_script_string_cannot_end_the_script_or_the_string() -> None:
    text = '</script><script>alert(1)</script>"\\\u2028&'
    literal = script_string(text)
    assert "<" not in literal and ">" not in literal and "&" not in literal
    assert "\u2028" not in literal
    assert json.loads(literal) == text
