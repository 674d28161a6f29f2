-- The warehouse database, next to Airflow's metadata database in the same server.
CREATE USER warehouse WITH PASSWORD 'warehouse';
CREATE DATABASE warehouse OWNER warehouse;
