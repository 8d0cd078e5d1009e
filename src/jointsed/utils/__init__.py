"""Small shared utilities (atomic writes, seeding)."""
