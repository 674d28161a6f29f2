"""The sandbox's world: data store, model, rules, money and time, in plain Python (no FastAPI, no HTTP).

Dependencies point one way: ``store`` and the model know no behaviour; the behaviour modules (``orders``,
``catalog``, ``money_flow``, ``timeline``, ``seed``) change a ``Store``; ``sandbox.Sandbox`` wires seed and clock
into the store. Nothing here imports ``fb_commerce.sandbox.http``.
"""

from __future__ import annotations
