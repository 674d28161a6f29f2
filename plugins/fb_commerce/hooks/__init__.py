"""Airflow hooks: the Graph API hook (on HttpHook) and the warehouse hook (SQLAlchemy)."""
