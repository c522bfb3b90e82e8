"""The composition root: the `obsrvr-flow` CLI wires settings, storage, processors, the API and workers."""
