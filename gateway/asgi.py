"""ASGI entry point for process managers (``uvicorn gateway.asgi:app --workers N``)."""

from gateway.main import create_app

app = create_app()
