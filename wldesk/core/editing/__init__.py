"""The headless `.wl` editor: documents (load, encode, save), values as text, new entries and the
folder's files, templates, and the DCMTK dump format."""
