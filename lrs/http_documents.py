"""Document resources (State, Activity Profile, Agent Profile): being written."""
