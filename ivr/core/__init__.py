"""What a call decides, in pure Python: nothing here imports Flask, Werkzeug or SQLAlchemy.

The menu file model and loader, lines, prompts, phone numbers, schedules and the hours said
aloud, on-call rotations, the navigator, case numbers and the TwiML renderer.
"""
