"""The `flask ivr` admin commands, the call simulator, the menu diagrams and warnings:
thin layers over the core and the stores.
"""
