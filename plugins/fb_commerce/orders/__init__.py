"""Orders: mapping Meta's orders to warehouse rows, acknowledgement, read-back, alerts. No Airflow here.

The OMS outbox (ship, cancel, refund requests sent to Meta) is the subpackage :mod:`fb_commerce.orders.updates`.
"""
