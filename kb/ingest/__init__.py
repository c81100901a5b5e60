"""The write path: validation, capture, batching, the SDK and the importers."""

from .builder import BatchBuilder
from .client import Client
from .digest import content_digest

__all__ = ["BatchBuilder", "Client", "content_digest"]
