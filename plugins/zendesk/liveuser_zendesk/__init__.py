"""liveuser-zendesk: Zendesk email tickets and authenticated Messaging users for liveuser."""

from .plugin import ZendeskPlugin
from .settings import ZendeskSettings

__all__ = ["ZendeskPlugin", "ZendeskSettings", "__version__"]
__version__ = "0.1.0"
