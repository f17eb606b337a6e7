"""Headless core of wldesk: settings, folder store, matching, the DICOM server. No Qt here."""

from pydicom import config as _pydicom_config

# Queries legitimately carry values that VR validation rejects (wildcards, ranges, "*" in a UID
# key) and worklist files from the field carry small deviations; wldesk interprets values itself
# and reports what matters, so pydicom's per-value validation warnings are switched off.
_pydicom_config.settings.reading_validation_mode = _pydicom_config.IGNORE
