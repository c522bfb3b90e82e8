"""obsrvr_flow package."""
