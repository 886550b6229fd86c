"""The HTTP server: the app factory, routes, errors, security, metrics and logs."""

from gateway.server.app import create_app

__all__ = ["create_app"]
