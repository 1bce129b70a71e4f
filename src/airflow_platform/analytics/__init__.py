"""The analytics warehouse: engines, the read-only guard, the query runner."""
