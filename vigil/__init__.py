"""Vigil: the domain package (settings, models, storage, schemas, providers, services)."""
