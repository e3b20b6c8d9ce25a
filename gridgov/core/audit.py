"""The audit log: every write service calls `audit_log` inside its transaction.

Entries form a hash chain: each holds the SHA-256 of its own content and of the previous entry's hash, so
`audit_verify` finds the first entry that was changed, removed or reordered.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.db import models, transaction
from django.utils import timezone

from .models import AuditChainHead, AuditEntry

GENESIS = "0" * 64


def _canonical(value: Any) -> Any:
    """JSON-safe, order-stable form of a value (what is stored is what is hashed)."""
    return json.loads(json.dumps(value, cls=DjangoJSONEncoder, sort_keys=True, ensure_ascii=False))


def entry_hash(*, seq: int, at: dt.datetime, actor_id: int | None, actor_name: str, action: str,
               object_type: str, object_id: str, object_repr: str, before: Any, after: Any, ip: str,
               prev_hash: str) -> str:
    payload = {
        "seq": seq,
        "at": at.astimezone(dt.UTC).isoformat(timespec="microseconds"),
        "actor_id": actor_id,
        "actor_name": actor_name,
        "action": action,
        "object_type": object_type,
        "object_id": object_id,
        "object_repr": object_repr,
        "before": before,
        "after": after,
        "ip": ip,
        "prev": prev_hash,
    }
    data = json.dumps(payload, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(data.encode()).hexdigest()


def _hash_of(entry: AuditEntry) -> str:
    return entry_hash(
        seq=entry.seq, at=entry.at, actor_id=entry.actor_id, actor_name=entry.actor_name,
        action=entry.action, object_type=entry.object_type, object_id=entry.object_id,
        object_repr=entry.object_repr, before=entry.before, after=entry.after, ip=entry.ip,
        prev_hash=entry.prev_hash,
    )


def audit_log(*, actor, action: str, obj: models.Model | None = None, before: Any = None,
              after: Any = None, object_type: str = "", object_id: str = "", object_repr: str = "",
              ip: str = "") -> AuditEntry:
    """Append one entry to the chain. Call it inside the write's transaction."""
    if obj is not None:
        object_type = object_type or obj._meta.label_lower
        object_id = object_id or str(obj.pk)
        object_repr = object_repr or str(obj)[:200]
    actor_id = getattr(actor, "pk", None) if actor is not None and getattr(actor, "is_authenticated", False) else None
    actor_name = actor.get_username() if actor_id else ""
    before, after = _canonical(before), _canonical(after)
    # no savepoint of its own: the entry stands or falls with the caller's write (two statements fewer per write)
    with transaction.atomic(savepoint=False):
        head, _ = AuditChainHead.objects.select_for_update().get_or_create(id=1)
        seq = head.last_seq + 1
        at = timezone.now()  # microseconds survive SQLite and PostgreSQL, so the hash recomputes
        fields = dict(seq=seq, at=at, actor_id=actor_id, actor_name=actor_name, action=action,
                      object_type=object_type, object_id=str(object_id), object_repr=object_repr[:200],
                      before=before, after=after, ip=ip, prev_hash=head.last_hash)
        digest = entry_hash(**fields)
        entry = AuditEntry.objects.create(**fields, hash=digest)
        head.last_seq, head.last_hash = seq, digest
        head.save(update_fields=["last_seq", "last_hash"])
    return entry


@dataclass(frozen=True)
class ChainProblem:
    seq: int
    kind: str  # changed (content altered, or entries swapped: seq is hashed too) | removed
    message: str


def audit_verify(*, batch_size: int = 5000) -> ChainProblem | None:
    """Walk the chain in order; return the first problem, or None when the chain is intact."""
    expected_prev = GENESIS
    expected_seq = 1
    last_seen: AuditEntry | None = None
    for entry in AuditEntry.objects.order_by("seq").iterator(chunk_size=batch_size):
        if entry.seq != expected_seq:
            return ChainProblem(expected_seq, "removed",
                                f"entry #{expected_seq} is missing (next present entry is #{entry.seq})")
        if _hash_of(entry) != entry.hash:
            return ChainProblem(entry.seq, "changed", f"entry #{entry.seq} was changed after it was written")
        if entry.prev_hash != expected_prev:
            return ChainProblem(entry.seq, "changed",
                                f"entry #{entry.seq} does not link to entry #{entry.seq - 1} (moved or replaced)")
        expected_prev = entry.hash
        expected_seq += 1
        last_seen = entry
    head = AuditChainHead.objects.filter(id=1).first()
    if head and head.last_seq and (last_seen is None or head.last_seq != last_seen.seq
                                   or head.last_hash != last_seen.hash):
        return ChainProblem(expected_seq, "removed",
                            f"the chain ends at #{expected_seq - 1} but #{head.last_seq} was written")
    return None
