"""What goes wrong when editing: the errors every part of the editing layer raises."""

from __future__ import annotations


class EditError(Exception):
    """A file cannot be loaded or saved, or a value cannot be set; the message says why."""


class ConflictError(EditError):
    """The file changed on disk since it was loaded; saving would overwrite someone else's work."""
