#!/usr/bin/env python
import sys

from cvat_lite.cli import main

if __name__ == "__main__":
    sys.exit(main(sys.argv))
