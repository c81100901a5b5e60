"""The typed per-request context every resolver receives as ``info.context``."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from strawberry.types import Info as _Info

from kb.config import Config
from kb.graph import Graph
from kb.graph.async_driver import AsyncGraph

from .auth import Principal
from .loaders import Loaders


@dataclass
class Context:
    request: Request
    response: Response
    graph: Graph
    #: The questions' reads on the event loop; None: they run in worker threads too.
    aio: AsyncGraph | None
    config: Config
    principal: Principal
    request_id: str
    loaders: Loaders
    extra: dict[str, Any] = field(default_factory=dict)


Info = _Info[Context, None]
