"""The DICOM codec, without worklist policy: VR tables, character sets, the fast `.wl` reader, the
parsed-entry nodes and the worklist attributes."""
