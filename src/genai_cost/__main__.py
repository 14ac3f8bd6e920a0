"""``python -m genai_cost``: the ``genai-cost`` command, where the script is not on PATH
(a virtualenv not activated, ``pipx run``-less containers)."""

from .cli import main

raise SystemExit(main())
