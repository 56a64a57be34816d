"""The `vigil` command: the application layer that composes the domain (vigil/), the API (serve/), the
pipeline (tasks/) and the dashboard."""
