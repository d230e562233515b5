"""`python -m trackheat` is the same program as the `trackheat` command."""

from trackheat.cli import main

raise SystemExit(main())
