//! Captured mail in the store: list, search, read, delete across the inboxes.
