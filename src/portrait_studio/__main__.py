"""``python -m portrait_studio`` is the ``portrait`` command."""
import sys

from .cli import main

sys.exit(main())
