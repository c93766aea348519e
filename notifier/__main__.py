"""``python -m notifier`` runs the same command line as the ``notifier`` script."""

from notifier.cli.main import main

raise SystemExit(main())
