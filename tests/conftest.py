"""Test-wide settings: no test reads or writes the user's result cache.

The cache (codegen/cache.py) is keyed by input bytes, but tests also
monkeypatch emitters; they run uncached unless a test turns it on with
its own cache directory (tests/test_cache.py).
"""

import os

os.environ["TDX_CODEGEN_NO_CACHE"] = "1"
