"""TDX module release strings: MAJOR.MINOR[.UPDATE][+TAG].

"1.5.01" and "1.5.1" are the same release.  Each part is 0..255: a module
reports its release as three 8-bit version fields, and generated code
compares a release as one number, release_code() (major << 16 | minor << 8
| update).

A tag names a build after the numbered release (a "later 1.5" module built
from a commit after the release), so "1.5.06+f97a493" sorts after 1.5.06 and
before 1.5.07; tags of one number compare as text (a stable order, not a
build order).  The version fields carry no tag, so a module of 1.5.06+f97a493
reports the code of 1.5.06: a release gate, which compares codes, cannot
name a tag (codegen.spec.rules rejects one), and Release.code drops it.
"""

from __future__ import annotations

from functools import total_ordering

# The fields that give a module's release, and how a release compares as one number:
# the compiler, the generated C and the readers' runtime compare release gates this way.
VERSION_FIELDS = ("MAJOR_VERSION", "MINOR_VERSION", "UPDATE_VERSION")


def release_code(major: int, minor: int, update: int) -> int:
    return (major << 16) | (minor << 8) | update


# Compiled on first parse: the readers import this module and must not pay for re.
# ASCII digits only ([0-9], not \d) and \Z, not $ (which also matches before a newline).
_PATTERN = r"([0-9]{1,3})\.([0-9]{1,3})(?:\.([0-9]{1,3}))?(?:\+([0-9A-Za-z][0-9A-Za-z.-]*))?\Z"


@total_ordering
class Release:
    __slots__ = ("major", "minor", "update", "tag")

    def __init__(self, major: int, minor: int, update: int = 0, tag: str = ""):
        self.major, self.minor, self.update, self.tag = major, minor, update, tag

    @classmethod
    def parse(cls, text: str) -> "Release":
        import re

        m = re.match(_PATTERN, text) if isinstance(text, str) else None
        if not m:
            raise ValueError(f"{text!r} is not a release (expected MAJOR.MINOR.UPDATE, "
                             "e.g. 1.5.01, optionally +TAG)")
        major, minor, update, tag = m.groups()
        parts = (int(major), int(minor), int(update or 0))
        if max(parts) > 255:
            raise ValueError(f"{text!r} is not a release: each part is 0..255 (a module reports "
                             "major, minor and update in 8 bits each)")
        return cls(*parts, tag or "")

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
        """release_code() of this release: how generated code compares releases (no tag)."""
        return release_code(self.major, self.minor, self.update)
