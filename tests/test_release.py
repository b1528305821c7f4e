"""Release strings: parts 0..255, tags after their number, codes without tags."""

import pytest

from codegen.abi.release import Release


@pytest.mark.parametrize(
    "text, shown, code",
    [
        ("1.5.01", "1.5.01", 0x010501),
        ("1.5.1", "1.5.01", 0x010501),
        ("1.5", "1.5.00", 0x010500),
        ("255.255.255", "255.255.255", 0xFFFFFF),
        ("1.5.06+f97a493", "1.5.06+f97a493", 0x010506),
    ],
)
def test_parse(text, shown, code):
    r = Release.parse(text)
    assert (str(r), r.code) == (shown, code)


@pytest.mark.parametrize(
    "text, message",
    [
        (
            "1.256.0",
            "'1.256.0' is not a release: each part is 0..255 (a module reports major, minor "
            "and update in 8 bits each)",
        ),
        (
            "1.5.300",
            "'1.5.300' is not a release: each part is 0..255 (a module reports major, minor "
            "and update in 8 bits each)",
        ),
        (
            "1.5.0\n",
            "'1.5.0\\n' is not a release (expected MAJOR.MINOR.UPDATE, e.g. 1.5.01, "
            "optionally +TAG)",
        ),
        (
            "\uff11.5.0",
            "'\uff11.5.0' is not a release (expected MAJOR.MINOR.UPDATE, e.g. 1.5.01, "
            "optionally +TAG)",
        ),
    ],
)
def test_parse_errors(text, message):
    with pytest.raises(ValueError) as exc:
        Release.parse(text)
    assert str(exc.value) == message


def test_order():
    """A tagged build sorts after its number and before the next; its code is the number's."""
    plain, tagged, later = (Release.parse(t) for t in ("1.5.06", "1.5.06+f97a493", "1.5.07"))
    assert plain < tagged < later
    assert plain.code == tagged.code < later.code
    assert Release.parse("1.5.6") == plain and hash(Release.parse("1.5.6")) == hash(plain)
