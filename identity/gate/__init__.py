"""identity.gate."""
