"""Object store: the interface and keys (base), a local-directory and an S3 implementation, sealing (encrypted),
and opening the configured one (stores)."""
