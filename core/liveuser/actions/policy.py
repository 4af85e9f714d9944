"""Each tenant's action policy: ``[tenants.<name>.actions]`` in liveuser.toml.

```toml
[tenants.default.actions]
enabled = ["shopify_change_shipping_address", "shopify_cancel_order"]
refund_limit = "150.00"                      # no refund above this amount (shop currency)
confirmation_ttl_seconds = 600               # a confirmation expires after this
[tenants.default.actions.accepted_states]    # order states each action accepts
shopify_cancel_order = ["UNFULFILLED"]
```

Every action is off until it is named in ``enabled``. An action whose record
is in a state it does not accept, or a refund above ``refund_limit``, is
refused with that reason before anything is proposed to the customer.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, HttpUrl, SecretStr, model_validator

from ..tools import identity_fields


class HttpActionSettings(BaseModel):
    """One action of the business's own HTTP endpoint (see ``actions/http_action.py``)."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=r"^[a-zA-Z0-9_-]{1,64}$", description="The tool name the model sees.")
    description: str = Field(min_length=1, max_length=1024, description="What the action does.")
    parameters: dict[str, Any] = Field(
        default_factory=lambda: {"type": "object", "properties": {}},
        description="JSON schema of the arguments (an object; no identity fields).",
    )
    url: HttpUrl = Field(description="The endpoint: POST proposes and executes, GET reads back.")
    api_key: SecretStr = Field(description="Sent in header_name with every request.")
    header_name: str = Field("Authorization", description="The header that carries api_key.")
    states: list[str] = Field(
        default_factory=list, description="States of the record it accepts (empty: any)."
    )

    @model_validator(mode="after")
    def _no_identity_parameter(self) -> HttpActionSettings:
        if self.parameters.get("type") != "object":
            raise ValueError("parameters must be a JSON schema of type object")
        named = identity_fields(self.parameters)
        if named:
            raise ValueError(
                f"parameter {named[0]!r} looks like an identity; actions act only for the "
                "verified customer"
            )
        return self


class ActionPolicy(BaseModel):
    """Which actions a tenant allows, and within which limits."""

    model_config = ConfigDict(extra="forbid")

    enabled: list[str] = Field(
        default_factory=list, description="Action names the model may propose; all others are off."
    )
    refund_limit: Decimal | None = Field(
        None, ge=0, description="Largest amount one refund may move; unset: refunds are refused."
    )
    accepted_states: dict[str, list[str]] = Field(
        default_factory=dict,
        description="Per action, the record states it accepts (default: the action's own).",
    )
    confirmation_ttl_seconds: float = Field(
        600.0, gt=0, le=86_400, description="How long a proposal waits for the customer."
    )
    http: list[HttpActionSettings] = Field(
        default_factory=list, description="Actions served by the business's own HTTP endpoint."
    )

    def is_enabled(self, name: str) -> bool:
        return name in self.enabled

    def states_for(self, name: str, default: tuple[str, ...]) -> tuple[str, ...]:
        """The states ``name`` accepts: the tenant's list, else the action's default."""
        configured = self.accepted_states.get(name)
        return tuple(configured) if configured is not None else default
