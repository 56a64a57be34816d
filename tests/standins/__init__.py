"""Local servers speaking third-party wire protocols, so contract tests drive real client SDKs over HTTP."""
