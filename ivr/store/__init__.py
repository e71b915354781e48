"""The database: tables, stores and the schema's migrations; nothing here imports Flask.

Stores of cases, missed calls and hours overrides take a session or connection as argument.
"""
