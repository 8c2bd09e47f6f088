"""The few errors the store and services raise; each message tells the caller what to do."""


class StoreError(Exception):
    """Base class of every error raised by `integrations`."""


class ConfigError(StoreError):
    """The store cannot start as configured (missing key, unsupported URL)."""


class NotFound(StoreError):
    """A record the caller named does not exist or does not belong to the patient."""


class SlotTaken(StoreError):
    """The slot was booked by someone else first; offer the caller other slots."""


class UnknownVisitType(StoreError):
    """The visit type is not one the clinic offers."""


class InvalidField(StoreError):
    """A field name or value is not part of the contract."""


class EhrUnavailable(StoreError):
    """The EHR did not answer, or not in FHIR: tell the caller, keep the request, retry later."""
