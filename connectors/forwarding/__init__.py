"""Statement forwarding to other LRSs: targets, the commit-safe horizon, delivery and its task runner."""
