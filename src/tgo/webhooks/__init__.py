"""Webhooks: signed, retried, logged and replayable event deliveries to tenants' endpoints (SPEC §9)."""
