"""The `.wl` entry editor: its window, its dataset model, its widgets and the new-entry form."""
