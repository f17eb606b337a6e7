"""The network service: the worklist SCP, its transport and fast answer path, and the probe that
asks a server as a modality would, with a C-FIND that loses no answer (``scu.find``)."""
