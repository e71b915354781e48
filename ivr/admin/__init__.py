"""The `flask ivr` admin commands: thin layers over the core and the stores.

Also what only admins use: the call simulator, the menu diagrams and the menu warnings.
"""
