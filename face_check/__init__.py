"""Face enrolment and verification (issue 4)."""
