"""The options of `clinicline callees`, apart from the callee bank itself so that building
the parser (which every `clinicline` process does) loads neither numpy nor pjsua2."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_callees_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of `clinicline callees` (and of `python -m voice.phone.callees`)."""
    parser.add_argument(
        "--listen", default="127.0.0.1:5090", help="SIP address HOST:PORT to answer on"
    )
    parser.add_argument(
        "--plan", type=Path, required=True, help="YAML plan: how each dialed number behaves"
    )
    parser.add_argument("--voice", choices=["piper", "espeak", "flite"], default="piper")
    parser.add_argument(
        "--calls", type=int, metavar="N", help="stop once N calls have ended (default: timeout)"
    )
    parser.add_argument(
        "--timeout", type=float, default=300.0, metavar="S", help="stop after S seconds at most"
    )
    parser.add_argument("--json", type=Path, metavar="FILE", help="also write the log here")
    parser.add_argument(
        "--no-transcribe", action="store_true", help="skip transcribing what was heard"
    )
