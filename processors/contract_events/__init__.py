"""contract_events processor."""
