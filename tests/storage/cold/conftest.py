from tests.storage.cold.helpers import events

__all__ = ["events"]
