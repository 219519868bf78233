"""The service: a FastAPI application served by uvicorn on port 8000."""

from app.api import create_app

__all__ = ["create_app"]
