"""Headless core of wldesk: settings, folder store, matching, the DICOM server. No Qt here."""
