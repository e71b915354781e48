"""The webhooks Twilio calls (blueprints), what they share, signatures, recorded prompts
and live reload of the menus: the layer that speaks HTTP around `ivr.core`.
"""
