"""``python -m parallax_agent module:attr [--host H] [--port P] …`` (see cli.py)."""

from .cli import main

main()
