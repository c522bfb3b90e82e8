"""Webhooks: endpoints, the outbox of messages, signed delivery, and the operations around them."""
