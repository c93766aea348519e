"""The handlers of the commands, one module per kind of work; the parser is ``cli.main``."""
