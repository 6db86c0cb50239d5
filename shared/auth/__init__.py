"""API keys per bureau, stored hashed, and the FastAPI dependency that authenticates every call."""
