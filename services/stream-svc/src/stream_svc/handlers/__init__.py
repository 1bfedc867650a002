"""Use cases of stream-svc."""
