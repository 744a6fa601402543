"""The ``lambdaboot`` command: one entry point, subcommands owned by each tool package."""
