"""fb-commerce pipelines: Airflow 3 integration between a merchant and Meta's Commerce Platform."""

from __future__ import annotations

__version__ = "0.1.0"

USER_AGENT = f"fb-commerce-pipelines/{__version__}"
