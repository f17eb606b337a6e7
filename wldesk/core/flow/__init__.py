"""Where entries come from and where they go: the channels that write `.wl` files into the
worklist folder (REST, HL7, CSV) through one ledger, so that the folder stays the single truth."""
