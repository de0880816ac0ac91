"""Telegram's user API (Telethon): accounts, logins, channels and the parsers that read them."""
