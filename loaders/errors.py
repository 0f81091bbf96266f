"""Exception classes shared by every layer; each message tells the user what to do next."""

from __future__ import annotations


class GridwatchError(Exception):
    """Base class: an error with a message fit to show a user as it is."""

    exit_code = 1


class ConfigError(GridwatchError):
    """The configuration file is invalid; the message names the key and the expected form."""

    exit_code = 2


class SourceError(GridwatchError):
    """A source database or file cannot be reached or read."""

    exit_code = 3


class SchemaError(GridwatchError):
    """A source table lacks a required column or cannot be mapped to the canonical schema."""

    exit_code = 4


class SnapshotError(GridwatchError):
    """No usable snapshot exists, or one could not be written."""

    exit_code = 5
