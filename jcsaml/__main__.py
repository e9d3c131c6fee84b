"""``python -m jcsaml``."""

from jcsaml.cli import run

run()
