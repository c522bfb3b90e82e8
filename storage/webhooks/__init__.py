"""Webhook endpoints, the outbox of messages recorded with the rows they announce, and the delivery log."""
