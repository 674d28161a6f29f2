"""A local, stateful stand-in for Meta's Commerce Platform Graph API.

The sandbox behaves like the Graph API as ``reference/graph-api.md`` describes it, so the pipelines run against it or
against graph.facebook.com with only the connection changed. The model (``state``, ``orders``, ``ledger``,
``catalog``, ``seed``) is plain Python; ``app`` wires it into FastAPI, ``server`` runs it with uvicorn and ``client``
drives its admin API. Nothing here imports Airflow: the sandbox must stay light enough to start in a test.

Public entry points: ``fb_commerce.sandbox.app.create_app``, ``fb_commerce.sandbox.server.SandboxServer`` /
``serve`` and ``fb_commerce.sandbox.client.SandboxAdmin``.
"""

from __future__ import annotations
