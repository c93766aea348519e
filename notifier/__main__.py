"""``python -m notifier`` runs the same command line as the ``notifier`` script."""

from notifier.cli import main

raise SystemExit(main())
