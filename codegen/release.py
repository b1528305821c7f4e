"""TDX module release strings: MAJOR.MINOR[.UPDATE][+TAG].

"1.5.01" and "1.5.1" are the same release.  A tag names a build after the
numbered release (TDX_ABI.md: "a later 1.5" seen at an arch commit), so
"1.5.06+f97a493" sorts after 1.5.06 and before 1.5.07.
"""

from __future__ import annotations

import re
from functools import total_ordering

# The fields that give a module's release, and how a release compares as one number
# (generated C and the Python readers compare release gates this way).
from codegen.runtime import VERSION_FIELDS, release_code  # noqa: F401  (re-exported)

_RE = re.compile(r"^(\d{1,3})\.(\d{1,3})(?:\.(\d{1,3}))?(?:\+([0-9A-Za-z][0-9A-Za-z.-]*))?$")


@total_ordering
class Release:
    __slots__ = ("major", "minor", "update", "tag")

    def __init__(self, major: int, minor: int, update: int = 0, tag: str = ""):
        self.major, self.minor, self.update, self.tag = major, minor, update, tag

    @classmethod
    def parse(cls, text: str) -> "Release":
        m = _RE.match(text)
        if not m:
            raise ValueError(f"'{text}' is not a release (expected MAJOR.MINOR.UPDATE, "
                             "e.g. 1.5.01, optionally +TAG)")
        major, minor, update, tag = m.groups()
        return cls(int(major), int(minor), int(update or 0), tag or "")

    def _key(self):
        return (self.major, self.minor, self.update, self.tag)

    def __eq__(self, other):
        return isinstance(other, Release) and self._key() == other._key()

    def __lt__(self, other):
        return self._key() < other._key()

    def __hash__(self):
        return hash(self._key())

    def __str__(self):
        text = f"{self.major}.{self.minor}.{self.update:02d}"
        return f"{text}+{self.tag}" if self.tag else text

    def __repr__(self):
        return f"Release('{self}')"

    @property
    def code(self) -> int:
        """release_code() of this release: how generated code compares releases."""
        return release_code(self.major, self.minor, self.update)
