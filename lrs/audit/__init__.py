"""The per-tenant audit chain: append, checkpoints, verification, erasure and adoption (DESIGN.md, Data)."""
