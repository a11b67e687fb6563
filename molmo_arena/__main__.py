"""`python -m molmo_arena ...`, as torchrun and the tests start it."""

import sys

from molmo_arena import main

sys.exit(main())
