"""The few exceptions the application shell raises, with messages a person can act on."""


class ClinicLineError(Exception):
    """Base class: something the operator can fix."""


class ConfigError(ClinicLineError):
    """A setting is missing, malformed or contradicts another."""


class StartupError(ClinicLineError):
    """A component could not start (port in use, model missing, database unreachable)."""
