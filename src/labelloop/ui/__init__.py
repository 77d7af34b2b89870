"""The web app: server-rendered pages over the same services and policies as the API."""
