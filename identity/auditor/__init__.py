"""The auditors' side: cross-tenant queries, the /audit/ pages and offline proof bundles."""
