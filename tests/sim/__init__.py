"""Test helpers for the simulator: the C client sources and a server runner."""
