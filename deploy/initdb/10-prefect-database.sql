-- Prefect's own database beside sohoa's (POSTGRES_DB=sohoa), on the same server.
CREATE DATABASE prefect;
