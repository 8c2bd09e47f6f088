"""The few errors routing raises; each message says what to fix."""


class RoutingError(Exception):
    """Base class of every error raised by `routing`."""


class HoursConfigError(RoutingError):
    """The business-hours file is missing, malformed or names an unknown weekday or zone."""


class UnknownTransfer(RoutingError):
    """No pending transfer matches the call (already answered, abandoned or never planned)."""
