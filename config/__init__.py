"""Operator configuration."""

from config.loading import ConfigError, load_settings
from config.settings import Settings

__all__ = ["ConfigError", "Settings", "load_settings"]
