"""Provider kinds, connection tests, discovery and the Provider table."""
