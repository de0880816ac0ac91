"""Felix Hub: a Telegram bot and web dashboard that keeps every post of the channels you follow."""
