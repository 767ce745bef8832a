"""Dashboard pages: one module per area, each a list of route handlers."""
