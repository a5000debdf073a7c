"""``python -m lstmkit``: the main job (see README)."""

from lstmkit.cli import main

main()
