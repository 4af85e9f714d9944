"""liveuser-intercom: Intercom email conversations and identity-verified Messenger users."""

from .plugin import IntercomPlugin
from .settings import IntercomSettings

__all__ = ["IntercomPlugin", "IntercomSettings", "__version__"]
__version__ = "0.1.0"
