import sys

from kubetrail.cli import main

sys.exit(main())
