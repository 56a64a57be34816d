"""OpenID Connect: the keys of the providers this deployment trusts, and the verification of their tokens."""
