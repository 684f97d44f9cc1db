"""The ``customer-graph`` command line: ``main`` wires the commands, each
module beside it is one group (keys, insights, sync, mirror).

The top of the import graph with ``gateway.app``: nothing imports it.
"""
