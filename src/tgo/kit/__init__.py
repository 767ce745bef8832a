"""Small shared building blocks: clock, ids, cursor pagination, schema base, tenant-bound repository."""
