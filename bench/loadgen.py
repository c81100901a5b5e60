"""The core of the benchmarks' load generators: a bare asyncio HTTP/1.1 exchange (like
wrk), so that clients sharing the machine's cores with the server cost tens of
microseconds a request rather than the ~1 ms of a full-featured client."""

from __future__ import annotations

import asyncio
import re

_LENGTH = re.compile(rb"content-length: *(\d+)", re.IGNORECASE)


async def exchange(reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                   request: bytes) -> tuple[bytes, bytes]:
    """Send one pre-encoded request on a keep-alive connection; the answer's status line
    and headers, and its body (answers carry a Content-Length)."""
    writer.write(request)
    head = await reader.readuntil(b"\r\n\r\n")
    length = _LENGTH.search(head)
    return head, await reader.readexactly(int(length.group(1)) if length else 0)
