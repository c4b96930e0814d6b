"""Cloud storages: one interface (``base``), one module per provider (``s3``, ``azure``,
``gcs``), the endpoint allowlist (``endpoints``) and ``registry.get_provider``. Django-free:
callers pass configuration (allowlist, timeouts) in explicitly."""
