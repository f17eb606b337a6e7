"""Worklist matching (PS3.4 C.2.2.2): value tests per VR, compiled queries and their prefilter, and
the answers they build."""
