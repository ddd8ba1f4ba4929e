"""Kolot moderation: civil discourse in Hebrew, Arabic and English.

Reads every submitted comment from the bus, decides on it (automatically, or by putting it in a
moderators' queue), and publishes what may be shown, with personal details redacted.
"""
