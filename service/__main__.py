"""``python -m service`` does what ``learndyn serve`` does."""

import sys

from service.cli import main

sys.exit(main(sys.argv[1:] or ["serve"]))
