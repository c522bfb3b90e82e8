"""contract_data processor."""
