"""Settings, pipeline, snapshot store, CLI, map layers and shared UI helpers."""

__version__ = "0.1.0"
