"""The sandbox's HTTP face: the Graph API and the admin API (``/_sandbox``) over FastAPI.

``pipeline`` is what every Graph call goes through, ``graph`` the route table and request type, ``routes_*`` the
endpoints, ``views_*`` the JSON fields of each node, ``fields`` and ``paging`` the ``fields=`` and cursor rules,
``snapshot`` the admin state dump. It imports ``world``; ``world`` never imports it.
"""

from __future__ import annotations
