"""The database: the tables, the stores of cases, missed calls and hours overrides, and
the schema's migrations. Nothing here imports Flask.
"""
