"""``python -m liveuser``: the same as the ``liveuser`` command."""

from .cli import main

main()
