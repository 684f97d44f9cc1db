"""One Klaviyo account's state: profiles with their email consent and
suppressions, lists with their members, and what the subscription calls do
to them (the OpenAPI spec's descriptions, revision 2026-07-15):

* Subscribe Profiles: a profile is found by email (else phone) or created;
  its email marketing consent becomes ``SUBSCRIBED`` and "any
  ``UNSUBSCRIBE``, ``SPAM_REPORT`` or ``USER_SUPPRESSED`` suppressions" are
  removed (a ``HARD_BOUNCE`` or ``INVALID_EMAIL`` one stays: the profile is on
  the list but cannot receive email). On a double opt-in list the profile
  waits for its confirmation (``confirm``) before either happens.
* Unsubscribe Profiles: consent ``UNSUBSCRIBED`` — per profile, "globally" —
  with an ``UNSUBSCRIBE`` suppression, and the profile removed from the list.
* Remove Profiles from List: membership only, "will not impact the profile's
  consent status".
* Create or Update Profile: found by id, email, phone or external id;
  attributes given replace, ``null`` clears, absent ones stay.
* Create Profile: 409 ``duplicate_profile`` when an identifier is taken.

Every change of consent or suppression moves the profile's ``updated`` and
the marketing consent's ``last_updated``, as Klaviyo's do; ``unsubscribe``
and ``suppress`` are also what a test calls for a person's own click on an
email's unsubscribe link, a bounce or a spam complaint.

Only the email channel is modelled; SMS, WhatsApp and push subscriptions in a
body are accepted and ignored.
"""

from __future__ import annotations

import hashlib
import random
import string
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from connectors.demo_world import World
from connectors.klaviyo.simulator.answers import ApiError, not_found

NEVER_SUBSCRIBED = "NEVER_SUBSCRIBED"
SUBSCRIBED = "SUBSCRIBED"
UNSUBSCRIBED = "UNSUBSCRIBED"
CLEARED_BY_SUBSCRIBE = frozenset({"UNSUBSCRIBE", "SPAM_REPORT", "USER_SUPPRESSED"})
CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
PROFILE_FIELDS = ("email", "phone_number", "external_id", "first_name", "last_name")


def _iso(when: datetime) -> str:
    return when.isoformat()


@dataclass(slots=True)
class Profile:
    id: str
    created: datetime
    attributes: dict[str, Any] = field(default_factory=dict)
    """``email`` (lower-case), ``phone_number``, ``external_id``, names,
    ``properties``."""
    consent: str = NEVER_SUBSCRIBED
    consent_at: datetime | None = None
    method_detail: str | None = None
    suppressions: list[tuple[str, datetime]] = field(default_factory=list)
    updated: datetime | None = None
    marketing_updated: datetime | None = None
    """The email marketing subscription's ``last_updated``."""

    @property
    def email(self) -> str | None:
        value = self.attributes.get("email")
        return value if isinstance(value, str) else None

    def filter_values(self, field: str) -> list[object]:
        """The values Get Profiles' ``filter`` compares for ``field``."""
        if field == "id":
            return [self.id]
        if field == "created":
            return [self.created]
        if field == "updated":
            return [self.updated or self.created]
        if field == "subscriptions.email.marketing.suppression.timestamp":
            return [at for _, at in self.suppressions]
        if field == "subscriptions.email.marketing.suppression.reason":
            return [reason for reason, _ in self.suppressions]
        return [self.attributes.get(field)]

    def changed(self, at: datetime, *, consent: bool = True) -> None:
        """A change of consent (or, with ``consent=False``, of suppressions
        only) at ``at``."""
        if consent:
            self.consent_at = at
        self.marketing_updated = self.updated = at

    @property
    def can_receive_email_marketing(self) -> bool:
        return self.consent == SUBSCRIBED and not self.suppressions

    def as_json(self, base: str, *, subscriptions: bool = False) -> dict[str, Any]:
        """The resource as Klaviyo answers it; ``base``: the API's origin."""
        attributes: dict[str, Any] = {
            name: self.attributes.get(name) for name in PROFILE_FIELDS
        }
        attributes |= {
            "created": _iso(self.created),
            "updated": _iso(self.updated or self.created),
            "properties": dict(self.attributes.get("properties") or {}),
        }
        if subscriptions:
            attributes["subscriptions"] = {"email": {"marketing": self._marketing()}}
        return {
            "type": "profile",
            "id": self.id,
            "attributes": attributes,
            "links": {"self": f"{base}/api/profiles/{self.id}/"},
        }

    def _marketing(self) -> dict[str, Any]:
        return {
            "can_receive_email_marketing": self.can_receive_email_marketing,
            "consent": self.consent,
            "consent_timestamp": _iso(self.consent_at) if self.consent_at else None,
            "last_updated": _iso(self.marketing_updated)
            if self.marketing_updated
            else None,
            "method": "API" if self.consent_at else None,
            "method_detail": "",
            "custom_method_detail": self.method_detail,
            "double_optin": None,
            "suppression": [
                {"reason": reason, "timestamp": _iso(at)}
                for reason, at in self.suppressions
            ],
            "list_suppressions": [],
        }


@dataclass(slots=True)
class EmailList:
    id: str
    name: str
    created: datetime
    double_opt_in: bool = False
    members: dict[str, datetime] = field(default_factory=dict)
    """Profile id → when it joined."""
    awaiting: set[str] = field(default_factory=set)
    """Profiles subscribed to a double opt-in list, not yet confirmed."""

    def as_json(self, base: str, *, profile_count: bool = False) -> dict[str, Any]:
        attributes: dict[str, Any] = {
            "name": self.name,
            "created": _iso(self.created),
            "updated": _iso(self.created),
            "opt_in_process": "double_opt_in"
            if self.double_opt_in
            else "single_opt_in",
        }
        if profile_count:
            attributes["profile_count"] = len(self.members)
        return {
            "type": "list",
            "id": self.id,
            "attributes": attributes,
            "links": {"self": f"{base}/api/lists/{self.id}/"},
        }


class Account:
    def __init__(self, seed: int = 0) -> None:
        self.profiles: dict[str, Profile] = {}
        self.lists: dict[str, EmailList] = {}
        self._rng = random.Random(seed)
        self._seed = seed

    def _profile_id(self) -> str:
        digest = hashlib.sha256(f"{self._seed}:{len(self.profiles)}".encode()).digest()
        return "01" + "".join(CROCKFORD[b % 32] for b in digest[:24])

    def add_list(self, name: str, *, double_opt_in: bool = False) -> EmailList:
        alphabet = string.ascii_letters + string.digits
        list_id = "".join(self._rng.choice(alphabet) for _ in range(6))
        created = datetime.now(UTC)
        self.lists[list_id] = EmailList(list_id, name, created, double_opt_in)
        return self.lists[list_id]

    def get_list(self, list_id: str) -> EmailList:
        found = self.lists.get(list_id)
        if found is None:
            raise not_found("List not found.")
        return found

    def find(self, attributes: dict[str, Any]) -> Profile | None:
        for name in ("email", "phone_number", "external_id"):
            value = attributes.get(name)
            if value:
                for profile in self.profiles.values():
                    if profile.attributes.get(name) == value:
                        return profile
        return None

    def create(self, attributes: dict[str, Any]) -> Profile:
        """Create Profile: 409 when one of its identifiers is taken."""
        duplicate = self.find(attributes)
        if duplicate is not None:
            raise ApiError(
                409,
                "duplicate_profile",
                "Conflict.",
                "A profile already exists with one of these identifiers.",
                meta={"duplicate_profile_id": duplicate.id},
            )
        return self.add_profile(attributes)

    def add_profile(self, attributes: dict[str, Any]) -> Profile:
        profile = Profile(self._profile_id(), datetime.now(UTC))
        profile.attributes = {k: v for k, v in attributes.items() if v is not None}
        self.profiles[profile.id] = profile
        return profile

    def upsert(
        self, attributes: dict[str, Any], profile_id: str | None
    ) -> tuple[Profile, bool]:
        """Create or Update Profile: ``(profile, created)``."""
        profile = self.profiles.get(profile_id or "") or self.find(attributes)
        if profile is None:
            return self.add_profile(attributes), True
        for name, value in attributes.items():
            if value is None:
                profile.attributes.pop(name, None)
            elif name == "properties":
                merged = dict(profile.attributes.get("properties") or {}) | value
                profile.attributes["properties"] = merged
            else:
                profile.attributes[name] = value
        profile.updated = datetime.now(UTC)
        return profile, False

    def subscribe(
        self, list_id: str | None, entries: list[dict[str, Any]], source: str | None
    ) -> None:
        """A subscribe job's work, when it runs."""
        target = self.lists.get(list_id) if list_id else None
        for entry in entries:
            profile = self.find(entry) or self.add_profile(entry)
            if target is not None and target.double_opt_in:
                target.awaiting.add(profile.id)
                continue
            self.mark_subscribed(profile, source)
            if target is not None:
                target.members.setdefault(profile.id, datetime.now(UTC))

    def mark_subscribed(self, profile: Profile, source: str | None) -> None:
        profile.consent = SUBSCRIBED
        profile.changed(datetime.now(UTC))
        profile.method_detail = source
        profile.suppressions = [
            s for s in profile.suppressions if s[0] not in CLEARED_BY_SUBSCRIBE
        ]

    def confirm(self, list_id: str, email: str) -> None:
        """The profile clicked the double opt-in confirmation of the list."""
        target = self.get_list(list_id)
        profile = self.find({"email": email.lower()})
        if profile is None or profile.id not in target.awaiting:
            raise KeyError(email)
        target.awaiting.discard(profile.id)
        self.mark_subscribed(profile, profile.method_detail)
        target.members.setdefault(profile.id, datetime.now(UTC))

    def unsubscribe(self, list_id: str | None, entries: list[dict[str, Any]]) -> None:
        """An unsubscribe job's work, when it runs."""
        target = self.lists.get(list_id) if list_id else None
        now = datetime.now(UTC)
        for entry in entries:
            profile = self.find(entry)
            if profile is None:
                continue
            profile.consent = UNSUBSCRIBED
            profile.changed(now)
            if all(reason != "UNSUBSCRIBE" for reason, _ in profile.suppressions):
                profile.suppressions.append(("UNSUBSCRIBE", now))
            if target is not None:
                target.members.pop(profile.id, None)
                target.awaiting.discard(profile.id)

    def remove(self, list_id: str, profile_ids: list[str]) -> None:
        target = self.get_list(list_id)
        for profile_id in profile_ids:
            target.members.pop(profile_id, None)

    def suppress(self, email: str, reason: str = "HARD_BOUNCE") -> None:
        """A bounce, a spam complaint, an unsubscribe link clicked in Klaviyo."""
        profile = self.find({"email": email.lower()})
        if profile is None:
            raise KeyError(email)
        now = datetime.now(UTC)
        profile.suppressions.append((reason, now))
        if reason == "UNSUBSCRIBE":
            profile.consent = UNSUBSCRIBED
        profile.changed(now, consent=reason == "UNSUBSCRIBE")


def build_account(world: World | None) -> Account:
    """The demo's account: three lists, and the world's customers who gave
    email consent subscribed to the newsletter (every 25th hard-bounced)."""
    account = Account(seed=world.seed if world is not None else 0)
    newsletter = account.add_list("Newsletter")
    account.add_list("VIP early access")
    account.add_list("Win-back", double_opt_in=True)
    if world is None:
        return account
    for customer in world.customers:
        if not customer.email_consent:
            continue
        profile = account.add_profile(
            {
                "email": customer.email.lower(),
                "first_name": customer.first_name,
                "last_name": customer.last_name,
            }
        )
        account.mark_subscribed(profile, "Signup form")
        newsletter.members[profile.id] = profile.created
        if customer.index % 25 == 0:
            profile.suppressions.append(("HARD_BOUNCE", profile.created))
    return account
