"""Bundled datasets; installed as the package ``tsrnn._data`` (see pyproject.toml)."""
