"""The web console at ``/ui`` (DESIGN.md §1): rubrics, the editor with live checks, the Try
box and the eval delta, saving with version history, the review queue and an overview.
Server-rendered (Jinja2 + htmx, vendored under ``static/``); pages work without JavaScript
where they can.

session          sign-in with an API key, the signed session cookie, roles, CSRF
history          rubric versions as files beside the rubric (``.history/``), atomic writes
drafts           a draft's problems (as ``rubric check``) and a classifier serving it
delta            the eval delta: saved vs draft on a labelled set, as a background task
summary charts   the overview's numbers and its inline SVG
routes_*         the pages; ``mount.with_console`` puts them on a gateway app
"""

from gateway.console.mount import with_console
from gateway.console.pages import ConsoleOptions

__all__ = ["ConsoleOptions", "with_console"]
