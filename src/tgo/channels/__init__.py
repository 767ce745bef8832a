"""Delivery adapters with no database access: OutboundMessage in, SendResult out."""
