"""livecast service kit: what every service shares (settings, logs, MongoDB, RabbitMQ topology,
outbox, idempotent consumers, JWT auth, health and metrics). Imported, never run as a service."""
