"""``python -m gateway.cli``: the ``customer-graph`` command."""

from gateway.cli.main import main

main()
