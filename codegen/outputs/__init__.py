"""Writing generated files: sealed banners, atomic all-or-nothing builds, the result cache."""
