"""liveuser-freshworks: Freshdesk email tickets and JWT-authenticated Freshchat users."""

from .plugin import FreshworksPlugin
from .settings import FreshworksSettings

__all__ = ["FreshworksPlugin", "FreshworksSettings", "__version__"]
__version__ = "0.1.0"
