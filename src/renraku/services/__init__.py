"""Use cases: what the CLI, the API and the worker ask the app to do."""
