"""Real-kernel checks of the generated kernel files (see harness.py)."""
