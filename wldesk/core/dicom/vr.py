"""The value representations of PS3.5 6.2 as wldesk groups them, and how a tag is written.

The one copy of these tables and of the tags every layer names: the codec, matching, answers,
the editor and the dump format all take them from here.
"""

from __future__ import annotations

from pydicom.datadict import keyword_for_tag

SPECIFIC_CHARACTER_SET = 0x00080005
PIXEL_DATA = 0x7FE00010

TEXT_VRS = frozenset({"SH", "LO", "ST", "LT", "UC", "UT", "PN"})
"""The VRs whose values Specific Character Set (0008,0005) applies to (PS3.5 6.1.2.3)."""
STRING_VRS = TEXT_VRS | {"AE", "AS", "CS", "DA", "DS", "DT", "IS", "TM", "UI", "UR"}
"""Every VR whose value is a character string."""
SINGLE_VALUED_VRS = frozenset({"LT", "ST", "UT", "UR"})
"""String VRs in which a backslash is a character, not a value delimiter (always VM 1)."""
LONG_VRS = frozenset({"OB", "OD", "OF", "OL", "OV", "OW", "SQ", "SV", "UC", "UN", "UR", "UT", "UV"})
"""VRs with a 2-byte reserved field and a 4-byte length in explicit VR (PS3.5 7.1.2)."""
INT_RANGES = {"US": (0, 2**16 - 1), "SS": (-(2**15), 2**15 - 1), "UL": (0, 2**32 - 1),
              "SL": (-(2**31), 2**31 - 1), "UV": (0, 2**64 - 1), "SV": (-(2**63), 2**63 - 1)}
"""Binary integer VRs and the values they hold."""
FLOAT_VRS = frozenset({"FL", "FD"})
STRUCT_FORMATS = {"US": "H", "SS": "h", "UL": "I", "SL": "i", "FL": "f", "FD": "d", "UV": "Q", "SV": "q"}
"""Binary number VRs and their :mod:`struct` format character (without byte order)."""
BINARY_VRS = frozenset({"OB", "OW", "UN", "OF", "OD", "OL", "OV"})
"""VRs whose value is a byte or word stream, shown as hex."""
NUMERIC_VRS = frozenset({"IS", "DS"} | INT_RANGES.keys() | FLOAT_VRS)
"""VRs whose value is a number, written as a string (IS, DS) or in binary."""
KNOWN_VRS = STRING_VRS | INT_RANGES.keys() | FLOAT_VRS | BINARY_VRS | {"AT", "SQ"}
"""Every VR of PS3.5 6.2."""


def tag_text(tag: int) -> str:
    """``(GGGG,EEEE)`` in upper-case hex, as DICOM and DCMTK write a tag."""
    return f"({tag >> 16:04X},{tag & 0xFFFF:04X})"


def describe_tag(tag: int) -> str:
    """``Keyword (GGGG,EEEE)``, or only the tag when the dictionary does not know it."""
    keyword = keyword_for_tag(tag)
    return f"{keyword} {tag_text(tag)}" if keyword else tag_text(tag)


def attribute_name(tag: int) -> str:
    """The keyword of ``tag``, or what it is when the dictionary does not know it."""
    keyword = keyword_for_tag(tag)
    if keyword:
        return keyword
    if tag & 0xFFFF == 0:
        return "(group length)"
    return "(private)" if (tag >> 16) % 2 else "(unknown)"
