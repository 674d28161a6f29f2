"""Airflow triggers: asynchronous polls that run in the triggerer (deferred tasks and asset watchers).

They must be importable from ``sys.path`` (the installed package), never from the dags folder, and keep heavy
imports inside ``run()`` because DAG files that create them are parsed often.
"""
