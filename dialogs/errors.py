"""Errors the dialog layer raises to its callers (the voice worker and the app shell)."""


class DialogError(Exception):
    """Base class for failures of the dialog layer."""


class DialogUnavailable(DialogError):
    """The Rasa server cannot be reached or answered badly; fall back to the keypad menu."""


class TrainingFailed(DialogError):
    """`rasa train` exited with an error; the message carries the tail of its output."""
