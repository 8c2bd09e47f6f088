"""`python -m dialogs.inside_rasa.launch run ...`: `rasa run` with its auth token from the
environment (CLINICLINE_RASA_TOKEN), so that the token is not on the command line, where any
local user can read it (`ps`, /proc/PID/cmdline)."""

from __future__ import annotations

import os
import sys

TOKEN_ENV = "CLINICLINE_RASA_TOKEN"
# The tracker store's synchronous SQLAlchemy URL and Fernet key(s) (tracker_store.py).
TRACKER_URL_ENV = "CLINICLINE_TRACKER_STORE_URL"
TRACKER_KEY_ENV = "CLINICLINE_TRACKER_STORE_KEY"


def rasa_argv(args: list[str], token: str) -> list[str]:
    """Rasa's argv with the token. `--auth-token=…` in one word: a token may begin with '-'
    (url-safe base64 does, one time in 64), which argparse would take for an option."""
    return ["rasa", *args, f"--auth-token={token}"]


def main() -> None:
    token = os.environ.get(TOKEN_ENV, "")
    if not token:
        sys.exit(f"{TOKEN_ENV} is not set: refusing to serve Rasa's API without a token")
    sys.argv = rasa_argv(sys.argv[1:], token)
    from rasa.__main__ import main as rasa_main

    rasa_main()


if __name__ == "__main__":
    main()
