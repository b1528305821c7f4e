# Copied by tdx-codegen 0.1.0 from codegen/abi/release.py
# Do not edit: run 'tdx-codegen build'.
"""TDX module release strings: MAJOR.MINOR[.UPDATE][+TAG].

"1.5.01" and "1.5.1" are the same release.  Each part is 0..255: a module
reports its release as three 8-bit version fields, and generated code
compares a release as one number, release_code() (major << 16 | minor << 8
| update).

A tag names a build after the numbered release (a module built from a
commit after the release), so "1.5.06+abc1234" sorts after 1.5.06 and
before 1.5.07; tags of one number compare as text (a stable order, not a
build order).  The version fields carry no tag, so a module of 1.5.06+abc1234
reports the code of 1.5.06: a release gate, which compares codes, cannot
name a tag (codegen.spec.rules rejects one), and Release.code drops it.
"""

from __future__ import annotations

# The fields that give a module's release, and how a release compares as one number:
# the compiler, the generated C and the readers' runtime compare release gates this way.
VERSION_FIELDS = ("MAJOR_VERSION", "MINOR_VERSION", "UPDATE_VERSION")


def release_code(major: int, minor: int, update: int) -> int:
    return (major << 16) | (minor << 8) | update


# Compiled on first parse: the readers import this module and must not pay for re.
# ASCII digits only ([0-9], not \d) and \Z, not $ (which also matches before a newline).
_PATTERN = r"([0-9]{1,3})\.([0-9]{1,3})(?:\.([0-9]{1,3}))?(?:\+([0-9A-Za-z][0-9A-Za-z.-]*))?\Z"


class Release:
    __slots__ = ("major", "minor", "tag", "update")

    def __init__(self, major: int, minor: int, update: int = 0, tag: str = ""):
        self.major, self.minor, self.update, self.tag = major, minor, update, tag

    @classmethod
    def parse(cls, text: str) -> Release:
        import re

        m = re.match(_PATTERN, text) if isinstance(text, str) else None
        if not m:
            raise ValueError(
                f"{text!r} is not a release (expected MAJOR.MINOR.UPDATE, "
                "e.g. 1.5.01, optionally +TAG)"
            )
        major, minor, update, tag = m.groups()
        parts = (int(major), int(minor), int(update or 0))
        if max(parts) > 255:
            raise ValueError(
                f"{text!r} is not a release: each part is 0..255 (a module reports "
                "major, minor and update in 8 bits each)"
            )
        return cls(*parts, tag or "")

    def _key(self):
        return (self.major, self.minor, self.update, self.tag)

    def __eq__(self, other):
        return isinstance(other, Release) and self._key() == other._key()

    # the four comparisons by hand: functools.total_ordering costs the readers an import
    def __lt__(self, other):
        return self._key() < other._key()

    def __le__(self, other):
        return self._key() <= other._key()

    def __gt__(self, other):
        return self._key() > other._key()

    def __ge__(self, other):
        return self._key() >= other._key()

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


class Since:
    """The first release of each release line (MAJOR.MINOR) that has a field.

    Release lines branch: the 2.0 line was cut from 1.5 after 1.5.06, and both kept gaining
    fields, so "first release" can differ per line.  Entries are ordered by line, one per line.
    The last entry holds from that release on, on its own line and on every later one; an
    earlier entry holds on its own line only.  `since = "1.5.01"` is in every release from 1.5.01;
    `since = ["1.5.34", "2.0.04"]` is in 1.5.34 and later 1.5 releases and in 2.0.04 and later,
    not in 1.5.06 nor 2.0.02; `since = "2.0.02"` is in no 1.5 release.
    """

    __slots__ = ("releases",)

    def __init__(self, *releases: Release):
        self.releases = tuple(releases)

    @staticmethod
    def line(release: Release) -> tuple[int, int]:
        return release.major, release.minor

    def order_error(self) -> str | None:
        """Why the entries are not one per line, oldest line first (None when they are)."""
        if not self.releases:
            return 'since lists no release: give the first release with the field, e.g. "1.5.01"'
        from itertools import pairwise  # here: the readers' import need not load it

        for a, b in pairwise(self.releases):
            if self.line(a) >= self.line(b):
                return (
                    f"{a} and {b}: since lists one release per release line (MAJOR.MINOR), "
                    "oldest line first"
                )
        return None

    def has(self, release: Release) -> bool:
        """Whether a module of `release` has the field."""
        *earlier, last = self.releases
        if release >= last:
            return True
        return any(self.line(r) == self.line(release) and release >= r for r in earlier)

    def describe(self) -> str:
        """'1.5.05', or '1.5.34 on the 1.5 line and 2.0.04' for a since per line."""
        *earlier, last = self.releases
        lines = "".join(f"{r} on the {r.major}.{r.minor} line and " for r in earlier)
        return f"{lines}{last}"

    @property
    def first(self) -> Release:
        return self.releases[0]

    def __eq__(self, other):
        return isinstance(other, Since) and self.releases == other.releases

    def __hash__(self):
        return hash(self.releases)

    def __str__(self):
        return ", ".join(str(r) for r in self.releases)

    def __repr__(self):
        return f"Since({', '.join(repr(str(r)) for r in self.releases)})"
