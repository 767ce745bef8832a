"""The reference TGO Connect network: its own app, tables, HTTP API, inbox page and signed events."""
