"""The web dashboard, served by ``renraku serve`` under ``/ui``: server-rendered pages (Jinja2)
with a little plain JavaScript, behind its own login (``renraku dashboard-users create``).

``renraku.web.mount.mount_dashboard(api, app)`` adds the pages, static files, login redirect and
``/``. This package's ``__init__`` stays empty so settings can import ``renraku.web.config``.
"""
