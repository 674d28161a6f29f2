"""Airflow operators: thin glue that calls hooks and domain code. Modules import heavy code lazily."""
