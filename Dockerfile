# Airflow image with fb-commerce pipelines installed (used by docker-compose.yml).
FROM apache/airflow:3.3.2-python3.11
COPY --chown=airflow:root requirements.txt constraints.txt pyproject.toml README.md /opt/fb-commerce/
COPY --chown=airflow:root plugins /opt/fb-commerce/plugins
RUN pip install --no-cache-dir -r /opt/fb-commerce/requirements.txt -c /opt/fb-commerce/constraints.txt \
 && pip install --no-cache-dir --no-deps -e /opt/fb-commerce \
 && rm -rf /opt/fb-commerce/plugins/*.egg-info
