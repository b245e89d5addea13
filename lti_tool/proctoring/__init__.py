"""lti_tool.proctoring."""
