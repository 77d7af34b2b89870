"""The HTTP API (FastAPI): thin handlers over the services."""
