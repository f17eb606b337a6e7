"""The PySide6 tray application: a thin shell over wldesk.core."""
