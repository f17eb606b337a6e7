"""OB/GYN ultrasound: the Last Menstrual Date an ultrasound shows the gestational age from, the
Pregnancy Status, and the estimated due date people know instead of the LMP."""

from __future__ import annotations

from datetime import date, timedelta

from pydicom.dataset import Dataset
from pydicom.sequence import Sequence as DicomSequence

PREGNANCY_STATUSES = (("1", "Not pregnant"), ("2", "Possibly pregnant"),
                      ("3", "Definitely pregnant"), ("4", "Unknown"))
"""The values of Pregnancy Status (0010,21C0) and what they mean."""
PREGNANCY_DAYS = 280
"""Naegele's rule: the due date is 280 days (40 weeks) after the first day of the last period."""
OBGYN_TEMPLATE_NAME = "OB/GYN ultrasound"

_WORDS = {"1": "1", "no": "1", "not pregnant": "1", "2": "2", "possibly": "2",
          "possibly pregnant": "2", "3": "3", "yes": "3", "pregnant": "3", "definitely": "3",
          "definitely pregnant": "3", "4": "4", "unknown": "4"}


def pregnancy_status_value(text: str) -> str:
    """The Pregnancy Status value (1 to 4) of ``text``: the number or its meaning in words
    ("not pregnant", "possibly", "definitely", "unknown", also "yes" and "no"); ValueError
    otherwise."""
    found = _WORDS.get(" ".join(text.split()).casefold())
    if found is None:
        raise ValueError(f"{text!r} is not a pregnancy status: 1 not pregnant, 2 possibly "
                         "pregnant, 3 definitely pregnant, 4 unknown")
    return found


def lmp_from_edd(edd: date) -> date:
    """The Last Menstrual Date of a pregnancy due on ``edd`` (LMP = EDD - 280 days)."""
    return edd - timedelta(days=PREGNANCY_DAYS)


def edd_from_lmp(lmp: date) -> date:
    """The estimated due date of a pregnancy whose last period started on ``lmp``."""
    return lmp + timedelta(days=PREGNANCY_DAYS)


def obgyn_template() -> Dataset:
    """The built-in OB/GYN ultrasound template: an ultrasound step with the Last Menstrual Date
    and Pregnancy Status (empty: filled in for each patient; Samsung Medison and GE Voluson
    ultrasounds ask for both)."""
    ds = Dataset()
    ds.LastMenstrualDate = ""
    ds.PregnancyStatus = None
    ds.RequestedProcedureDescription = "OB/GYN ultrasound"
    step = Dataset()
    step.Modality = "US"
    step.ScheduledProcedureStepDescription = "OB/GYN ultrasound"
    ds.ScheduledProcedureStepSequence = DicomSequence([step])
    return ds
