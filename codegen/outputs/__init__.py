"""Writing generated files: a manifest of what was written, atomic all-or-nothing builds, the result cache."""
