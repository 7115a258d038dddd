"""Offline stand-in for the pip bootstrap script that ansible-test downloads.

ansible-test fetches get-pip.py from a host this machine cannot reach. That script only runs
an embedded pip wheel's `pip install`; this one does the same with the pip wheel from PyPI
that tests/sanity.sh puts beside it.
"""

import glob
import os
import sys

GET_PIP_ONLY_OPTIONS = {"--no-setuptools", "--no-wheel"}


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    wheel = sorted(glob.glob(os.path.join(here, "pip-*.whl")))[-1]
    sys.path.insert(0, wheel)
    from pip._internal.cli.main import main as pip_main

    args = [arg for arg in sys.argv[1:] if arg not in GET_PIP_ONLY_OPTIONS]
    return pip_main(["install", "--upgrade", "--force-reinstall", *args])


if __name__ == "__main__":
    sys.exit(main())
