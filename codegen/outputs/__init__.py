"""Writing generated files: a manifest of what was written, all-or-nothing builds, the cache."""
