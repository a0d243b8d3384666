"""Reason stage: turn a question and retrieved passages into a cited :class:`~ponder.types.Answer`."""

from ponder.reason.direct import DirectMode

__all__ = ["DirectMode"]
