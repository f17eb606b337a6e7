"""Per-modality profiles: how the answers to one modality are shaped (the settings' side).

A profile is a small JSON object in the settings file, in a known modality (``modalities[i].profile``)
or as ``default_profile`` (every other calling AE title)::

    {"charset": "ascii", "strict": true, "withhold_invalid": false, "one_step_per_answer": false,
     "ignore_query_date": false, "ignore_query_station": false, "max_answers": 0}

Every key is optional (a key left out has the value above, except ``charset``, whose default is
``"as_is"``). A modality's profile replaces ``default_profile`` as a whole. What each key changes on
the wire is in docs/conformance.md ("Per-modality profiles"); the answers are shaped in
``wldesk.core.query.profiles``. This module only declares, reads and writes profiles.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

CHARSETS: dict[str, str] = {
    "as_is": "As stored (lossless)",
    "ISO_IR 100": "Latin-1 (ISO_IR 100)",
    "ISO_IR 192": "Unicode (ISO_IR 192)",
    "ascii": "Plain ASCII (no character set)",
}
"""The ``charset`` values a profile may have, each with how the Settings tab shows it."""


class ProfileError(ValueError):
    """A profile's key has a wrong type or value, or is unknown; the message names its path."""


@dataclass(frozen=True)
class Profile:
    """How the answers to one modality are shaped. The default profile changes nothing."""

    charset: str = "as_is"  # one of CHARSETS
    strict: bool = False  # times HHMMSS, dates YYYYMMDD, descriptions filled, bad entries last
    withhold_invalid: bool = False  # with strict: entries breaking a strict rule are not sent
    one_step_per_answer: bool = False  # one answer per matching Scheduled Procedure Step item
    ignore_query_date: bool = False  # the query's SPS Start Date does not filter
    ignore_query_station: bool = False  # the query's Scheduled Station AE Title does not filter
    max_answers: int = 0  # at most this many answers per query (0: no limit of its own)

    def __post_init__(self) -> None:
        if self.charset not in CHARSETS:
            raise ProfileError(f"charset: expected one of {', '.join(map(repr, CHARSETS))}, "
                               f"got {self.charset!r}")
        if self.max_answers < 0:
            raise ProfileError(f"max_answers: must be 0 (no limit) or a positive number "
                               f"(got {self.max_answers})")

    def is_default(self) -> bool:
        """True when this profile changes nothing: answers exactly as without profiles."""
        return self == DEFAULT_PROFILE

    def to_mapping(self) -> dict[str, Any]:
        """The profile as the settings file holds it (every key)."""
        return {f.name: getattr(self, f.name) for f in fields(self)}

    def summary(self) -> str:
        """The profile in a few words, for tables and the Activity tab ("ascii, strict")."""
        parts = [] if self.charset == "as_is" else [self.charset]
        if self.strict:
            parts.append("strict, withholding invalid entries" if self.withhold_invalid
                         else "strict")
        parts += [words for flag, words in (
            (self.one_step_per_answer, "one step per answer"),
            (self.ignore_query_date, "ignores the query's date"),
            (self.ignore_query_station, "ignores the query's station")) if flag]
        if self.max_answers:
            parts.append(f"at most {self.max_answers} answers")
        return ", ".join(parts) or "as stored"


DEFAULT_PROFILE = Profile()

_KINDS = {f.name: f.type for f in fields(Profile)}


def profile_from(value: Any, where: str) -> Profile:
    """A profile from its JSON object; ProfileError naming ``where`` and the key when it is wrong."""
    if isinstance(value, Profile):
        return value
    if not isinstance(value, Mapping):
        raise ProfileError(f"{where}: expected an object with the keys "
                           f"{', '.join(_KINDS)}, got {value!r}")
    unknown = sorted(set(value) - set(_KINDS))
    if unknown:
        raise ProfileError(f"{where}.{unknown[0]}: unknown key (a profile has "
                           f"{', '.join(_KINDS)})")
    for key, item in value.items():
        kind = _KINDS[key]
        if kind == "bool" and not isinstance(item, bool):
            raise ProfileError(f"{where}.{key}: expected true or false, got {item!r}")
        if kind == "int" and (not isinstance(item, int) or isinstance(item, bool)):
            raise ProfileError(f"{where}.{key}: expected a whole number, got {item!r}")
        if kind == "str" and not isinstance(item, str):
            raise ProfileError(f"{where}.{key}: expected a string, got {item!r}")
    try:
        return Profile(**value)
    except ProfileError as exc:
        raise ProfileError(f"{where}.{exc}") from None
