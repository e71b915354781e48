"""The layer that speaks HTTP around `ivr.core`: the webhooks Twilio calls.

Blueprints, what they share, signatures, recorded prompts and live reload of the menus.
"""
