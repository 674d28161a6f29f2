"""Orders: mapping Meta's orders to warehouse rows, acknowledgement, and the OMS outbox. No Airflow here."""
