"""liveuser-shopify: the verified customer's Shopify orders, delivery, tracking and stock."""

from .plugin import ShopifyPlugin
from .settings import ShopifySettings

__all__ = ["ShopifyPlugin", "ShopifySettings", "__version__"]
__version__ = "0.1.0"
