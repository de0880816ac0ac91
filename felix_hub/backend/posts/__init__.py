"""Posts: what a channel said, in one shape whatever it came from (Telethon, a Desktop export)."""
