"""``python -m jcsaml``: the same entry as the console script."""

from jcsaml.launcher import run

run()
