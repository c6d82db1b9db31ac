"""Handlers the localcloud tests deploy (imported by the in-process runtime like `functions`)."""
