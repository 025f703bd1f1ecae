"""The FastAPI layer: REST API, `/ws`, health and metrics, dependencies, the uvicorn server."""
