"""The dashboard: server-rendered pages for people, served by the same process at ``/``.

Pages read and write through the same package functions as the HTTP API; nothing here owns
logic the API lacks. ``ROUTES`` is mounted after the API's routes.
"""

from mailwright.web.pages import ROUTES

__all__ = ["ROUTES"]
