"""The field-id codec: round trips and the ABI's own examples."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from codegen.abi import fieldid

ids = st.integers(min_value=0, max_value=fieldid.MASK64)


@given(ids)
def test_decode_then_reassemble_is_identity(value):
    d = fieldid.decode(value)
    rebuilt = 0
    for (_name, lo, width), part in zip(fieldid.LAYOUT, d, strict=True):
        assert 0 <= part < (1 << width)
        rebuilt |= part << lo
    assert rebuilt == value


def test_declared_attributes_are_the_layout():
    # FieldId declares its attributes for type checkers: they are LAYOUT's, in its order
    assert tuple(fieldid.FieldId.__annotations__) == fieldid.FieldId._fields
    d = fieldid.decode(0x9100000100000008)
    assert [getattr(d, name) for name in d._fields] == list(d)
    assert type(d).class_code.__doc__ == "CLASS_CODE"


@given(
    st.integers(0, fieldid.MAX_CLASS),
    st.integers(0, fieldid.MAX_FIELD_CODE),
    st.sampled_from(fieldid.ELEMENT_SIZES),
    st.booleans(),
    st.integers(0, 15),
    st.integers(0, 511),
)
def test_encode_decode_round_trip(cls, code, size, non_arch, last_el, last_field):
    value = fieldid.encode(
        cls, code, size, non_arch=non_arch, last_element=last_el, last_field=last_field
    )
    d = fieldid.decode(value)
    assert (d.class_code, d.field_code, d.element_size, d.non_arch) == (cls, code, size, non_arch)
    assert (d.last_element_in_field, d.last_field_in_sequence) == (last_el, last_field)
    assert fieldid.key(value) == (cls, code)
    assert fieldid.parse(fieldid.canonical(value)) == value


@given(ids, st.integers(0, fieldid.MAX_FIELD_CODE))
def test_replace_changes_only_the_named_part(value, code):
    out = fieldid.replace(value, FIELD_CODE=code)
    assert out & fieldid.FIELD_CODE_MASK == code
    assert out & ~fieldid.FIELD_CODE_MASK == value & ~fieldid.FIELD_CODE_MASK


def test_abi_examples():
    # top byte 0x91 is the non-arch class 17; 0x19 the architectural class 25
    max_tdmrs = fieldid.decode(0x9100000100000008)
    assert (
        max_tdmrs.non_arch,
        max_tdmrs.class_code,
        max_tdmrs.element_size,
        max_tdmrs.field_code,
    ) == (1, 17, 2, 8)
    assert fieldid.decode(0x1900000300000000).class_code == 25
    assert fieldid.encode(17, 8, 2, non_arch=True) == 0x9100000100000008
    # the 1.5.01 RDALL header qword is a list header, not an id; a sequence header
    # of CMR_BASE[32] carries LAST_FIELD_IN_SEQUENCE = 31
    assert fieldid.decode(0x900007C300000080).last_field_in_sequence == 31
    assert fieldid.key(0x9100000100000008) == fieldid.key(0x1100000100000008)


def test_reserved_mask_covers_exactly_the_reserved_bits():
    reserved = [b for b in range(64) if fieldid.RESERVED_MASK >> b & 1]
    assert reserved == [*range(24, 32), 47, 48, 49, 55, 62]


@pytest.mark.parametrize(
    "text,value",
    [
        ("0x9100000100000008", 0x9100000100000008),
        ("-1", fieldid.NULL_ID),
        ("0xFFFF_FFFF_FFFF_FFFF", fieldid.NULL_ID),
        ("0", 0),
    ],
)
def test_parse(text, value):
    assert fieldid.parse(text) == value


@pytest.mark.parametrize(
    "text,message",
    [
        ("0x1_0000_0000_0000_0000", "0x10000000000000000 does not fit in 64 bits"),
        ("zz", "'zz' is not a number (write ids as 0x followed by hex digits)"),
        ("-2", "-2 does not fit in 64 bits"),
    ],
)
def test_parse_errors(text, message):
    with pytest.raises(ValueError) as exc:
        fieldid.parse(text)
    assert str(exc.value) == message


def test_encode_rejects_parts_that_do_not_fit():
    with pytest.raises(ValueError, match="CLASS_CODE 0x40 does not fit in 6 bits"):
        fieldid.encode(64, 0, 8)
    with pytest.raises(ValueError, match="element size 3 is not 1, 2, 4 or 8"):
        fieldid.encode(0, 0, 3)
