"""What a call decides, in pure Python: the menu file model and loader, lines, prompts,
phone numbers, schedules and the hours said aloud, on-call rotations, the navigator, case
numbers and the TwiML renderer. Nothing here imports Flask, Werkzeug or SQLAlchemy.
"""
