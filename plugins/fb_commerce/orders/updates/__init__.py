"""Order updates: the OMS outbox, checked and sent to Meta (the fb_order_updates DAG). No Airflow here.

The merchant's OMS writes ship, update-tracking, cancel and refund requests into the outbox tables; this package
reads them, checks each against what its order still allows, and sends it with its idempotency key:

- :mod:`~fb_commerce.orders.updates.requests`: the outbox tables, their columns and request kinds, the queue order;
- :mod:`~fb_commerce.orders.updates.outbox`: reading the rows (every value parsed exactly, or refused by column) and
  the status counts;
- :mod:`~fb_commerce.orders.updates.remaining`: what each stored order still allows (units left to ship, cancel or
  refund, shipping left to refund, tracking numbers in use), moved forward request by request;
- :mod:`~fb_commerce.orders.updates.validate`: a request checked against what remains of its order;
- :mod:`~fb_commerce.orders.updates.payloads`: the Graph call of a request and its idempotency key;
- :mod:`~fb_commerce.orders.updates.send`: the drain: invalid requests marked failed, the others sent in queue order.
"""
