"""Offline imports: channel history from Telegram Desktop exports, with no network at all."""

from felix_hub.backend.imports.desktop import (
    ExportError,
    ImportedChannel,
    ImportReport,
    SkippedChat,
    import_export,
    post_from_export,
)

__all__ = ["ExportError", "ImportReport", "ImportedChannel", "SkippedChat", "import_export", "post_from_export"]
