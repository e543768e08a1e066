"""The base class every error of the tutorial's helpers derives from."""

from __future__ import annotations


class OAuthTutorialError(Exception):
    """Base class of every error the tutorial's helpers raise on purpose."""
