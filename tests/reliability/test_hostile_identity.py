"""Hostile identities and data: look-alike emails and conversation ids, refused vendor
conversations (an attacker in CC, a typed email, another's token), and back-end data that
tries to leave its block or speak to the model.

* Emails follow liveuser.identity.normalize_email: the domain lowercased through IDNA,
  an ASCII local part case-folded, plus tags kept, no Unicode folding. A case,
  trailing-dot or full-width-domain spelling of an address reaches its owner's
  data (one person never splits: IDNA itself maps a full-width domain home); a
  plus tag or a look-alike letter (Cyrillic, Greek, a digit) never does (two
  people never merge).
* A conversation id that only looks like another never inherits its
  verification, and a context is never handed to it; a vendor conversation
  id spelled another way (a leading zero, full-width or Arabic-Indic digits,
  a trailing space) verifies nobody.
* Every refused demo conversation of every connector (CC, typed email,
  another person's token, unverified channels) gives a refusal holding no
  address at all.
* Whatever a back-end answers, or the reason it fails with, stays inside its
  data block or a one-line note: the only lines outside the blocks are
  liveuser's own.
"""

from __future__ import annotations

import contextlib
import re
import unicodedata
from collections.abc import AsyncIterator, Iterator
from typing import Any, ClassVar

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from liveuser import (
    BackendError,
    Channel,
    Conversation,
    Ledger,
    Pipeline,
    Plugin,
    Refusal,
    Registry,
    Settings,
    TenantSettings,
    UserData,
    VerifiedUser,
    hookimpl,
)
from liveuser.errors import SiloViolation
from liveuser.host import HostConnector
from liveuser.identity import normalize_email
from liveuser.render import CLOSE, HEADER, OPEN
from liveuser.tokens import Purpose, mint_token

from ..strategies import emails, hostile_text, lookalike_swaps
from .tally import TALLY
from .vendors import HOST_KEYS, Vendor, start_vendors, tenant_settings

pytestmark = pytest.mark.reliability

HOSTILE = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.filter_too_much,  # look-alikes apply only where their letter occurs
    ],
)
ANY_ADDRESS = re.compile(r"[\w.+-]+@[\w-]+\.[\w.-]+")
FULL_WIDTH = {c: c + 0xFEE0 for c in range(0x21, 0x7F)}
OWN_LINES = ("Customer: ", "Missing source ", "Trimmed to fit: ", "Shortened: ", "No data was")


class MarkedBackend(Plugin):  # type: ignore[type-arg]
    """Answers each known person with a marker naming them; remembers who it was asked about."""

    name: ClassVar[str] = "marked"

    def __init__(self) -> None:
        super().__init__()
        self.people: set[str] = set()
        self.asked: list[str] = []

    @hookimpl
    async def fetch_user_data(self, user: VerifiedUser) -> UserData | None:
        self.asked.append(user.email)
        if user.email not in self.people:
            return None
        return UserData(source=self.name, fields={"marker": f"DATA-OF[{user.email}]"})


class HostileBackend(Plugin):  # type: ignore[type-arg]
    """Answers with whatever text it is given, everywhere a back-end can put text."""

    name: ClassVar[str] = "hostile"

    def __init__(self) -> None:
        super().__init__()
        self.text = ""
        self.fail = False

    @hookimpl
    async def fetch_user_data(self, user: VerifiedUser) -> UserData:
        if self.fail:
            raise BackendError(self.name, self.text)
        return UserData(
            source=self.name,
            kind=self.text[:40] or "account",
            fields={"note": self.text, self.text[:30] or "name": "value"},
            items=[{"title": self.text, "status": self.text[::-1]}],
            text=self.text,
        )


def host_conversation(email: str, conversation_id: str) -> Conversation:
    token = mint_token(HOST_KEYS, tenant="default", purpose=Purpose.identity, subject=email)
    return Conversation(
        channel=Channel.host, conversation_id=conversation_id, claims={"token": token}
    )


@pytest.fixture(scope="module")
async def ledger() -> AsyncIterator[Ledger]:
    async with Ledger(":memory:", b"k" * 32) as led:
        yield led


@contextlib.asynccontextmanager
async def host_pipeline(
    ledger: Ledger, *plugins: Plugin[Any], cache: float = 0
) -> AsyncIterator[Pipeline]:
    settings = Settings(
        ledger=":memory:",
        tenants={"default": TenantSettings(**tenant_settings({}, cache_ttl_seconds=cache))},
    )
    registry = Registry(settings, discover=False, builtins=[HostConnector])
    for plugin in plugins:
        registry.register(plugin)
    try:
        yield Pipeline(registry, ledger)
    finally:
        await registry.aclose()


@HOSTILE
@given(
    owner=emails,
    twin=st.sampled_from(["upper", "upper-domain", "trailing-dot", "swapcase", "wide-domain"]),
    other=st.one_of(
        st.tuples(st.just("plus"), st.from_regex(r"[a-z0-9]{1,8}", fullmatch=True)),
        st.tuples(st.just("lookalike-local"), lookalike_swaps),
        st.tuples(st.just("lookalike-domain"), lookalike_swaps),
    ),
)
async def test_lookalike_emails_never_merge_and_spellings_never_split(
    ledger: Ledger, owner: str, twin: str, other: tuple[str, tuple[str, str]]
) -> None:
    local, domain = owner.split("@")
    same = {
        "upper": owner.upper(),
        "upper-domain": f"{local}@{domain.upper()}",
        "trailing-dot": f"{local}@{domain}.",
        "swapcase": owner.swapcase(),
        # IDNA maps full-width letters of a domain to ASCII: the same domain, one mailbox.
        "wide-domain": f"{local}@{domain.translate(FULL_WIDTH)}",
    }[twin]
    how, detail = other
    if how == "plus":
        assume("+" not in local)
        stranger = f"{local}+{detail}@{domain}"
    else:
        ascii_char, lookalike = detail
        part = local if how == "lookalike-local" else domain.split(".")[0]
        assume(ascii_char in part)
        if how == "lookalike-domain":  # IDNA maps compatibility forms (a script l...) home
            assume(unicodedata.normalize("NFKC", lookalike) == lookalike)
        swapped = part.replace(ascii_char, lookalike, 1)
        stranger = (
            f"{swapped}@{domain}"
            if how == "lookalike-local"
            else f"{local}@{swapped}.{domain.split('.', 1)[1]}"
        )
    try:
        normalize_email(stranger)
    except ValueError:
        assume(False)  # not an address at all: nobody to verify
    backend = MarkedBackend()
    backend.people.add(normalize_email(owner))
    marker = f"DATA-OF[{normalize_email(owner)}]"
    async with host_pipeline(ledger, backend) as pipeline:
        twin_context = await pipeline.context_for(host_conversation(same, "c-twin"), "m1")
        TALLY.hostile_tried["look-alike email"] += 1
        stranger_context = await pipeline.context_for(host_conversation(stranger, "c-x"), "m2")
    assert twin_context.verified and marker in twin_context.text, f"{same!r} split from {owner!r}"
    assert stranger_context.verified  # a person of their own, with nobody's data
    assert marker not in stranger_context.text, f"{stranger!r} merged with {owner!r}"
    assert backend.asked[-1] == normalize_email(stranger) != normalize_email(owner)
    TALLY.hostile_refused["look-alike email"] += 1


@HOSTILE
@given(
    base=st.from_regex(r"conv-[a-z0-9]{1,12}", fullmatch=True),
    change=st.one_of(
        lookalike_swaps.map(lambda swap: ("swap", swap)),
        st.sampled_from(["upper", "space", "zero-width", "fullwidth", "nfd"]).map(
            lambda how: (how, ("", ""))
        ),
    ),
)
async def test_lookalike_conversation_ids_never_share_a_verification(
    ledger: Ledger, base: str, change: tuple[str, tuple[str, str]]
) -> None:
    how, (ascii_char, lookalike) = change
    if how == "swap":
        assume(ascii_char in base)
        other = base.replace(ascii_char, lookalike, 1)
    else:
        other = {
            "upper": base.upper(),
            "space": base + " ",
            "zero-width": base[:2] + "\u200b" + base[2:],
            "fullwidth": base.translate(FULL_WIDTH),
            "nfd": base.replace("o", "o\u0301", 1) if "o" in base else base + "\u0301",
        }[how]
    assume(other != base)
    backend = MarkedBackend()
    backend.people.add("ann@example.com")
    async with host_pipeline(ledger, backend, cache=60) as pipeline:
        ann = host_conversation("ann@example.com", base)
        context = await pipeline.context_for(ann, "m1")
        assert context.verified
        TALLY.hostile_tried["look-alike conversation id"] += 1
        # The look-alike conversation presents no credentials of its own.
        intruder = Conversation(channel=Channel.host, conversation_id=other)
        verdict = await pipeline.verify(intruder)
        assert isinstance(verdict, Refusal), f"{other!r} inherited {base!r}'s verification"
        with pytest.raises(SiloViolation):
            context.text_for(intruder)
    TALLY.hostile_refused["look-alike conversation id"] += 1


@pytest.fixture(scope="module")
def vendors() -> Iterator[dict[str, Vendor]]:
    with contextlib.ExitStack() as stack:
        yield start_vendors(stack)


async def test_every_refused_vendor_conversation_gives_nobody_data(
    vendors: dict[str, Vendor], ledger: Ledger
) -> None:
    """Attacker in CC, typed emails, another person's token, unverified channels: refused."""
    configured = {name: v.settings for name, v in vendors.items()}
    settings = Settings(
        ledger=":memory:",
        tenants={"default": TenantSettings(**tenant_settings(configured, cache_ttl_seconds=0))},
    )
    builtins = [HostConnector, *(v.cls for v in vendors.values())]
    registry = Registry(settings, discover=False, builtins=builtins)
    pipeline = Pipeline(registry, ledger)
    refused = [
        (vendor.name, step)
        for vendor in vendors.values()
        for step in vendor.sandbox.steps
        if step.title.startswith("Refused")
    ]
    try:
        for n, (name, step) in enumerate(refused):
            kind = "forged ticket, attacker in CC" if "CC" in step.title else "vendor refusal"
            TALLY.hostile_tried[kind] += 1
            context = await pipeline.context_for(step.conversation, f"refused-{n}")
            assert not context.verified, f"{name}: {step.title}: verified"
            assert context.refusal and "\n" not in context.refusal
            assert not ANY_ADDRESS.findall(context.text), f"{name}: {step.title}: {context.text}"
            TALLY.hostile_refused[kind] += 1
    finally:
        await registry.aclose()
    assert sum("CC" in step.title for _, step in refused) >= 4  # every email-ticket connector


def vendor_lookalikes(cid: str) -> dict[str, str]:
    """Spellings of a vendor conversation id that are another id, or no id at all."""
    digits = {ord(str(d)): chr(0x660 + d) for d in range(10)}  # Arabic-Indic digits
    found = {
        "leading zero": "0" + cid,
        "full width": cid.translate(FULL_WIDTH),
        "trailing space": cid + " ",
        "zero-width space": cid + "\u200b",
        "upper case": cid.upper(),
        "Arabic-Indic digits": cid.translate(digits),
    }
    return {how: other for how, other in found.items() if other != cid}


async def test_lookalike_vendor_conversation_ids_verify_nobody(
    vendors: dict[str, Vendor], ledger: Ledger
) -> None:
    """ "01001" is not ticket 1001: a verification under another key is one no webhook drops."""
    configured = {name: v.settings for name, v in vendors.items()}
    settings = Settings(
        ledger=":memory:",
        tenants={"default": TenantSettings(**tenant_settings(configured, cache_ttl_seconds=0))},
    )
    builtins = [HostConnector, *(v.cls for v in vendors.values())]
    registry = Registry(settings, discover=False, builtins=builtins)
    pipeline = Pipeline(registry, ledger)
    verified = [
        step.conversation
        for vendor in vendors.values()
        for step in vendor.sandbox.steps
        if not step.title.startswith("Refused") and step.conversation.channel is not Channel.host
    ]
    try:
        for conversation in verified:
            for how, other in vendor_lookalikes(conversation.conversation_id).items():
                TALLY.hostile_tried["look-alike conversation id"] += 1
                hostile = conversation.model_copy(update={"conversation_id": other})
                verdict = await pipeline.verify(hostile)
                assert isinstance(verdict, Refusal), f"{how} {other!r} verified {verdict!r}"
                TALLY.hostile_refused["look-alike conversation id"] += 1
    finally:
        await registry.aclose()


def outside_blocks(text: str) -> list[str]:
    """The lines of a context that are not inside a data block (the header excepted)."""
    lines, inside = [], False
    for line in text.split("\n"):
        if line == HEADER:
            continue
        if line.startswith(OPEN) and not inside:
            inside = True
        elif line == CLOSE and inside:
            inside = False
        elif not inside:
            lines.append(line)
    assert not inside, "a block was left open"
    return lines


@HOSTILE
@given(text=hostile_text, fail=st.booleans())
async def test_backend_data_never_leaves_its_block(ledger: Ledger, text: str, fail: bool) -> None:
    backend = HostileBackend()
    backend.text, backend.fail = text, fail
    TALLY.hostile_tried["back-end data breakout"] += 1
    async with host_pipeline(ledger, backend) as pipeline:
        context = await pipeline.context_for(host_conversation("ann@example.com", "c-data"), "m")
    assert context.verified
    body = context.text.replace(HEADER, "", 1)
    assert body.count(OPEN) == body.count(CLOSE) == (0 if fail else 1)
    for line in outside_blocks(context.text):
        assert line.startswith(OWN_LINES), f"data outside its block: {line!r}"
    TALLY.hostile_refused["back-end data breakout"] += 1
