"""The HTTP service and web page: `create_app` builds the FastAPI app, `serve` runs it."""

from reelrank.service.app import create_app

__all__ = ["create_app"]
