"""Allow ``python -m kanc ...`` as an alternative to the ``kanc`` console script."""
import sys

from kanc.cli import main

sys.exit(main())
