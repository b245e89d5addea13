"""VNeID OpenID Connect sign-in, identity records, verification stamps and statement signing (issue 4)."""
