"""wldesk: a DICOM Modality Worklist server that serves the .wl files of a folder."""

__version__ = "0.1.0"
APP_NAME = "wldesk"
