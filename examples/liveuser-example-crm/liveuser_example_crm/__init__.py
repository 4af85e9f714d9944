"""An example custom back-end: each customer's plan and notes from a JSON file.

The file maps an email address to a record::

    {"ann@example.com": {"plan": "Gold", "renews": "2027-01-01", "phone": "+1 555 0100"}}

``phone`` is marked private: tools may use it, the model never sees it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import ClassVar

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from liveuser import Plugin, PluginSettings, UserData, VerifiedUser, hookimpl, normalize_email


class ExampleCrmSettings(PluginSettings):
    model_config = SettingsConfigDict(env_prefix="LIVEUSER_EXAMPLE_CRM_", extra="forbid")

    customers_file: Path = Field(description="JSON file: email -> customer record.")


class ExampleCrm(Plugin[ExampleCrmSettings]):
    name: ClassVar[str] = "example_crm"
    settings_model = ExampleCrmSettings

    @hookimpl
    def fetch_user_data(self, user: VerifiedUser) -> UserData | None:
        records = json.loads(self.settings.customers_file.read_text())
        by_email = {normalize_email(email): record for email, record in records.items()}
        record = by_email.get(user.email)  # the silo's verified user, never a model's choice
        if record is None:
            return None
        return UserData(
            source=self.name, kind="account", fields=record, private=frozenset({"phone"})
        )
