"""liveuser-hubspot: HubSpot inbound email verified; live chat only with a host attestation."""

from .plugin import HubSpotPlugin
from .settings import HubSpotSettings

__all__ = ["HubSpotPlugin", "HubSpotSettings", "__version__"]
__version__ = "0.1.0"
