"""The LTI 1.3 Advantage tool (issue 3)."""
