"""Authentication: API keys for the APIs, sessions for the dashboard."""
