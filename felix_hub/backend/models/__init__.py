"""Every model, imported here so Alembic and the app see one complete metadata."""

from felix_hub.backend.models.access import Invite
from felix_hub.backend.models.account import Account, AccountStatus
from felix_hub.backend.models.base import Base, UTCDateTime, utcnow
from felix_hub.backend.models.channel import Channel, Subscription, SyncState
from felix_hub.backend.models.lease import Lease
from felix_hub.backend.models.post import Post, PostEdit
from felix_hub.backend.models.update import Update, UpdateStatus
from felix_hub.backend.models.user import User

__all__ = [
    "Account",
    "AccountStatus",
    "Base",
    "Channel",
    "Invite",
    "Lease",
    "Post",
    "PostEdit",
    "Subscription",
    "SyncState",
    "UTCDateTime",
    "Update",
    "UpdateStatus",
    "User",
    "utcnow",
]
