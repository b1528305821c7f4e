"""What every check shares: the loaded entries, the reporter, and locations."""

from __future__ import annotations

from codegen.abi.release import Release
from codegen.spec.diagnostics import Location, Note
from codegen.spec.model import Field, Source


class Context:
    def __init__(self, loaded, rep):
        self.rep = rep
        self.loaded = loaded
        self.classes = [e for e in loaded.entries if e.kind == "class"]
        self.structs = [e for e in loaded.entries if e.kind == "struct"]
        self.fields = [e for e in loaded.entries if e.kind == "field"]
        settings = [e for e in loaded.entries if e.kind == "settings"]
        self.settings = settings[0] if settings else None
        # names present in the text even if their entry failed typing:
        # references to them are not reported again (no cascades).
        self.known_field_names = {e.name for e in self.fields if e.name}
        self.known_struct_names = {e.name for e in self.structs if e.name}
        self.referenced_structs = {
            e.raw.get("struct") for e in self.fields if isinstance(e.raw.get("struct"), str)
        }
        if loaded.incomplete:  # a file is unreadable: any name may be in it
            self.known_field_names = _Everything()
            self.known_struct_names = _Everything()
        self.entry_at = {(e.doc.shown, e.path): e for e in self.fields}
        self._releases: dict[str, Release] = {}  # a schema names a few releases many times

    def err(self, rule: str, message: str, loc: Location, *notes: Note) -> None:
        self.rep.error(rule, message, loc, *notes)

    def warn(self, rule: str, message: str, loc: Location, *notes: Note) -> None:
        self.rep.warning(rule, message, loc, *notes)

    def dup(self, rule: str, message: str, loc: Location, first) -> None:
        """Report a duplicate at loc, with a note at the first definition."""
        first_loc = self.loc_of(first) if isinstance(first, Source) else first
        self.err(rule, message, loc, Note("first defined here", first_loc))

    def loc_of(self, src: Source) -> Location:
        for e in self.loaded.entries:
            if e.doc.shown == src.file:
                return Location(src.file, src.line, 1, 1, e.doc.line(src.line))
        return Location(src.file, src.line)

    def entry_of(self, f: Field):
        return self.entry_at[(f.source.file, f.source.path)]

    def field_loc(self, f: Field, key: str) -> Location:
        return self.entry_of(f).loc(key)

    def release(self, e, text: str, *keys) -> Release | None:
        if text in self._releases:
            return self._releases[text]
        try:
            rel = self._releases[text] = Release.parse(text)
        except ValueError as exc:
            self.err("RELEASE-FORMAT", str(exc), e.loc(*keys))
            return None
        return rel


class _Everything:
    """Stands for the set of names when a file could not be read."""

    def __contains__(self, item) -> bool:
        return True
