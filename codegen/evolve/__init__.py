"""Evolving the schema: compatibility checks, Intel JSON import, kernel-tree output."""
