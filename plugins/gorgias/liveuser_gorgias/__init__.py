"""liveuser-gorgias: Gorgias email tickets for liveuser; Gorgias Live Chat is refused."""

from .plugin import GorgiasPlugin
from .settings import GorgiasSettings

__all__ = ["GorgiasPlugin", "GorgiasSettings", "__version__"]
__version__ = "0.1.0"
