"""User entry points: the ``sohoa`` command line (and later the HTTP service)."""
