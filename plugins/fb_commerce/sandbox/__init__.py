"""A local, stateful stand-in for Meta's Commerce Platform Graph API.

The sandbox behaves like the Graph API as ``docs/graph-api.md`` describes it, so the pipelines run against it or
against graph.facebook.com with only the connection changed. Two rooms, with dependencies pointing one way:

- ``world/``: what the Commerce Platform knows and does, plain Python: the data store (``store``), the model,
  the rules (``orders``, ``catalog``, ``catalog_fields``, ``feeds``), money (``money``, ``money_flow``), time
  (``clock``, ``timeline``), the seeded history (``seed``) and Meta's error codes (``errors``); ``world.sandbox``
  puts them together. It never imports ``http``.
- ``http/``: the Graph API and admin API over FastAPI: the request pipeline, routes, views (JSON fields), paging and
  the snapshot. It calls into ``world``.

``server`` runs both with uvicorn and ``client`` drives the admin API over HTTP. Nothing here imports Airflow: the
sandbox must stay light enough to start in a test. The product code never imports the sandbox (a test says so);
only the launchers (``cli``, ``demo``, ``devstack``, ``local``) start it.

Public entry points: ``fb_commerce.sandbox.http.app.create_app``, ``fb_commerce.sandbox.server.SandboxServer`` /
``serve`` and ``fb_commerce.sandbox.client.SandboxAdmin``.
"""

from __future__ import annotations
