"""`python -m runledger ...` is the `runledger` command."""

import sys

from api.cli import main

sys.exit(main())
