"""Leaked-key reports, in the format of GitHub's secret-scanning partner programme: a reporter
that found `gf_` keys somewhere public (a repository, a gist, a package) POSTs them in a batch,
signed with its private key; we check the signature against the reporter's published public keys
(settings.SECRET_SCANNING_PUBLIC_KEYS, by key identifier), and each key that is ours and still
works stops working at once:

- a key whose current secret leaked is revoked (final), recorded (`key.leaked`, then `key.revoked`
  with reason `leaked`), and its owner and the team's owners and admins are mailed where it was
  found; a team whose policy is to flag leaked keys (teams.Team.leaked_key_action, set by an owner)
  gets the key marked (`leaked_at`) and the same mails instead, and decides itself;
- a regenerated key whose *replaced* secret leaked, during its grace period, loses only that
  grace (the new secret keeps working).

The answer labels each token for the reporter, as GitHub asks: `true_positive` for a key we
issued (live or not), `false_positive` for anything else. A candidate can be checked offline
first: `gf_` + 32 base62 characters + a 6-character base62 CRC-32 checksum of those 32
(apikeys.keys), regular expression `gf_[0-9A-Za-z]{38}`.

The signature: ECDSA P-256 with SHA-256 over the raw body, base64 (DER) in
`Github-Public-Key-Signature`, the key named by `Github-Public-Key-Identifier`.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from access.scopes import Role
from audit.services import Action, record_event
from infra import coherence, mail
from infra.errors import BadRequest, Unauthorized
from teams.models import Membership

from . import keys
from .models import APIKey

MAX_FINDINGS = 1000  # per report
MAX_FIELD = 2048  # characters of a url or source


@dataclass(frozen=True)
class Finding:
    token: str
    type: str
    url: str
    source: str


def _public_key(key_id: str):
    pem = settings.SECRET_SCANNING_PUBLIC_KEYS.get(key_id)
    if not pem:
        return None
    key = serialization.load_pem_public_key(pem.encode())
    return key if isinstance(key, ec.EllipticCurvePublicKey) else None


def verify_signature(*, body: bytes, key_id: str | None, signature: str | None) -> None:
    """401 `signature_invalid` unless `signature` is the reporter key `key_id`'s over `body`."""
    refused = Unauthorized("The report's signature is missing or does not verify.", code="signature_invalid")
    if not key_id or not signature:
        raise refused
    public_key = _public_key(key_id.strip())
    if public_key is None:
        raise refused
    try:
        public_key.verify(base64.b64decode(signature, validate=True), body, ec.ECDSA(hashes.SHA256()))
    except (InvalidSignature, binascii.Error, ValueError) as exc:
        raise refused from exc


def parse(body: bytes) -> list[Finding]:
    """The findings of a report body (a JSON list of {token, type, url, source}); 400 otherwise."""
    try:
        items = json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise BadRequest("The report must be a JSON list of findings.", code="invalid_report") from exc
    if not isinstance(items, list) or len(items) > MAX_FINDINGS:
        raise BadRequest(f"The report must be a JSON list of at most {MAX_FINDINGS} findings.", code="invalid_report")
    findings = []
    for item in items:
        if not isinstance(item, dict) or not isinstance(item.get("token"), str):
            raise BadRequest("Each finding needs a `token` (a string).", code="invalid_report")
        text = {name: item.get(name) if isinstance(item.get(name), str) else "" for name in ("type", "url", "source")}
        findings.append(
            Finding(
                token=item["token"][:256],
                type=text["type"][:128],
                url=text["url"][:MAX_FIELD],
                source=text["source"][:MAX_FIELD],
            )
        )
    return findings


def handle(*, findings: list[Finding], reporter: str) -> list[dict]:
    """Stop every reported key that is ours and live; the reporter's labels, in order."""
    answers = []
    seen: dict[str, str] = {}
    for finding in findings:
        if finding.token not in seen:
            seen[finding.token] = _handle_one(finding, reporter=reporter)
        answers.append({"token_raw": finding.token, "token_type": finding.type, "label": seen[finding.token]})
    return answers


def _handle_one(finding: Finding, *, reporter: str) -> str:
    parsed = keys.parse(finding.token)
    if parsed is None:
        return "false_positive"  # not our format, or its checksum is wrong: never looked up
    digests = list(parsed.digests.values())
    with transaction.atomic():
        key = APIKey.objects.for_authentication(digests).select_for_update(of=("self",)).first()
        if key is None:
            return "false_positive"
        now = timezone.now()
        current = key.digest in digests
        where = {"url": finding.url, "source": finding.source, "reporter": reporter}
        if current and key.status_at(now) == APIKey.Status.ACTIVE and key.team.leaked_key_action == "flag":
            # The team flags leaked keys rather than revoking them: it keeps working, marked.
            record_event(
                action=Action.KEY_LEAKED, team_id=key.team_id, api_key=key, data={**where, "outcome": "flagged"}
            )
            coherence.invalidate_around(
                lambda: APIKey.objects.for_team(key.team_id).filter(pk=key.pk).update(leaked_at=now)
            )
            _tell(key, finding, outcome="flagged")
        elif current and key.status_at(now) == APIKey.Status.ACTIVE:
            record_event(
                action=Action.KEY_LEAKED, team_id=key.team_id, api_key=key, data={**where, "outcome": "revoked"}
            )
            coherence.invalidate_around(
                lambda: (
                    APIKey.objects.for_team(key.team_id)
                    .filter(pk=key.pk, revoked_at__isnull=True)
                    .update(revoked_at=now)
                )
            )
            record_event(action=Action.KEY_REVOKED, team_id=key.team_id, api_key=key, data={"reason": "leaked"})
            _tell(key, finding, outcome="revoked")
        elif not current and key.previous_secret_usable_at(now) and key.revoked_at is None:
            # The replaced secret of a regenerated key: only its grace ends.
            record_event(
                action=Action.KEY_LEAKED, team_id=key.team_id, api_key=key, data={**where, "outcome": "grace_ended"}
            )
            coherence.invalidate_around(
                lambda: APIKey.objects.for_team(key.team_id).filter(pk=key.pk).update(previous_digest_expires_at=now)
            )
            _tell(key, finding, outcome="grace_ended")
        else:
            record_event(
                action=Action.KEY_LEAKED, team_id=key.team_id, api_key=key, data={**where, "outcome": "not_live"}
            )
    return "true_positive"


def _tell(key: APIKey, finding: Finding, *, outcome: str) -> None:
    """The key's owner and the team's owners and admins, once each."""
    admins = Membership.objects.for_team(key.team_id).filter(role__in=[Role.OWNER, Role.ADMIN]).select_related("user")
    recipients = {key.user.email} | {membership.user.email for membership in admins}
    for address in sorted(filter(None, recipients)):
        mail.send(
            "key_leaked",
            address,
            key_name=key.name,
            key_prefix=key.prefix,
            team_name=key.team.name,
            url=finding.url or "(not given)",
            source=finding.source or "(not given)",
            outcome=outcome,
        )
