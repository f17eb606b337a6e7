"""The one probe of encodability: exact, and silent (no pydicom warning for text that does not fit)."""

from __future__ import annotations

import logging
import warnings

import pytest

from wldesk.core.dicom.charsets import UTF8, can_encode, choose, is_valid, undefined_terms


def test_probe_answers_exactly(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a probe must not even warn
        assert can_encode(["Müller^Zoë"], ["ISO_IR 100"])
        assert not can_encode(["ΑΛΦΑ^ΒΗΤΑ"], ["ISO_IR 100"])
        assert can_encode(["ΑΛΦΑ^ΒΗΤΑ"], ["ISO_IR 126"])
        assert can_encode(["山田^太郎"], ["", "ISO 2022 IR 87"])
        assert not can_encode(["山田^太郎"], ["", "ISO 2022 IR 100"])
        assert not can_encode(["Ärzte"], ["ISO_IR 999"])
        assert not can_encode(["Ärzte"], ["UTF-8"])  # a Python codec name, not a DICOM term
        assert not can_encode([], ["ISO_IR 192", "ISO 2022 IR 87"])  # stand-alone, not alone
        assert choose(["ΑΛΦΑ"], [["ISO_IR 100"], ["ISO_IR 126"]]) == ["ISO_IR 126"]
        assert choose(["ΑΛΦΑ"], [["ISO_IR 100"], ["UTF-8"]]) == [UTF8]
    assert caplog.records == []


def test_defined_terms() -> None:
    assert is_valid(["ISO_IR 100"]) and is_valid(["", "ISO 2022 IR 87"]) and is_valid([])
    assert undefined_terms(["UTF-8", "ISO_IR 100", "ISO-8859-1", "latin1"]) == [
        "UTF-8", "ISO-8859-1", "latin1"]
    assert not is_valid(["ISO IR 100"])  # pydicom would patch the spelling; DICOM readers do not
