"""The analyzers that run the tasks (offline, the OpenAI model chain), their protocol, registry and prompt versions."""
