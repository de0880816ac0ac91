"""The inbox: Bot API updates stored durably, then run in per-chat order on the engine."""
