"""The ``rnnkit`` command line: ``main`` in ``rnnkit.cli.main``, one module per command."""
