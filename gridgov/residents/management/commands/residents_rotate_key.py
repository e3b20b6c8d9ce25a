"""Rotate the field-encryption key: re-encrypt every encrypted personal-data field with the current key and
recompute every blind index.

What is re-encrypted (the live tables and their change-history tables, so that no history row stays
readable only with the old key):

    residents.Resident   id_number (+ id_index), phone (+ phone_index)
    residents.House      owner_phone
    residents.Unit       contact_phone
    cases.Case           reporter_phone (+ reporter_phone_index)
    disputes.Party       phone (+ phone_index; then the indexes a party copies from its resident, and the
                         identities built from an index, "p:<phone index>", are brought in line)

Procedure
---------
1. Make a new key:  python -c "import base64, os; print(base64.b64encode(os.urandom(32)).decode())"
2. Plan a short maintenance window (or at least stop imports): between step 3 and the end of step 4,
   exact search by ID number/phone only finds records already rotated, and a duplicate ID number entered
   in that window is only detected when the command reaches the older record (it is then reported and
   left under the old key: clear the ID number on the newer record, run the command again, then merge the
   two records with the merge tool).
3. Configure EVERY process (web, jobs, import workers) with
       GRIDGOV_FIELD_KEY=<new key>
       GRIDGOV_FIELD_KEYS_OLD=<old key>[,<older key>...]
   and restart them. New writes now use the new key; old values stay readable.
4. Run  `python manage.py residents_rotate_key`  (optionally `--dry-run` first to see the counts,
   `--batch-size N`, default 1000). Each batch is one transaction; the command can be interrupted and
   run again: values already under the current key are left alone, so a second run reports 0 rotated.
   It prints counts per table and writes one `crypto.rotate_key` entry to the audit log.
5. When it reports "0 left under old keys", remove GRIDGOV_FIELD_KEYS_OLD from every process and restart.
   Keep the old key in safe storage until the backups made with it have expired: a backup taken before
   the rotation can only be read with it.

Blind indexes are keyed with a key derived from GRIDGOV_FIELD_KEY, so they change with the key: the index of
every row whose ciphertext was under an old key is recomputed from the decrypted value. Rows already under
the current key were written with the current index key (both in the same write) and are skipped, unless
`--reindex-all` is given, which decrypts every value and recomputes every index.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.apps import apps
from django.core.management.base import BaseCommand, CommandError
from django.db import IntegrityError, transaction

from gridgov.core import crypto
from gridgov.core.audit import audit_log


@dataclass(frozen=True)
class Target:
    model: str  # "app_label.Model"
    fields: dict[str, str | None]  # encrypted field -> its blind-index field (or None)


# Other apps that add encrypted fields append here (and to the list in the module docstring).
TARGETS: list[Target] = [
    Target("residents.Resident", {"id_number": "id_index", "phone": "phone_index"}),
    Target("residents.House", {"owner_phone": None}),
    Target("residents.Unit", {"contact_phone": None}),
    Target("cases.Case", {"reporter_phone": "reporter_phone_index"}),
    Target("disputes.Party", {"phone": "phone_index"}),
]


@dataclass
class Counts:
    rows: int = 0  # rows looked at
    rotated: int = 0  # rows rewritten
    values: int = 0  # ciphertexts re-encrypted
    indexes: int = 0  # blind indexes recomputed
    conflicts: list[int] = field(default_factory=list)  # rows left under the old key (duplicate index)


def _models(target: Target):
    model = apps.get_model(target.model)
    found = [model]
    history = getattr(model, "history", None)
    if history is not None and hasattr(history, "model"):
        found.append(history.model)
    return found


class Command(BaseCommand):
    help = ("Re-encrypt every encrypted personal-data field (ID numbers, phones) with the current "
            "GRIDGOV_FIELD_KEY and recompute the blind indexes, reading old values with the keys in "
            "GRIDGOV_FIELD_KEYS_OLD. Steps: 1) set GRIDGOV_FIELD_KEY=<new> and GRIDGOV_FIELD_KEYS_OLD=<old> for "
            "every process and restart them; 2) run this command (safe to interrupt and re-run; --dry-run "
            "shows the counts); 3) when it reports 0 left under old keys, drop GRIDGOV_FIELD_KEYS_OLD. See the "
            "module docstring for the full procedure.")

    def add_arguments(self, parser):
        parser.add_argument("--batch-size", type=int, default=1000, help="rows per transaction (default 1000)")
        parser.add_argument("--dry-run", action="store_true", help="count what would change, write nothing")
        parser.add_argument("--reindex-all", action="store_true",
                            help="also recompute the blind indexes of rows already under the current key")

    def handle(self, *args, batch_size: int, dry_run: bool, reindex_all: bool, **options):
        if batch_size < 1:
            raise CommandError("--batch-size must be at least 1")
        crypto.reset_keys()  # read the environment as it is now
        try:
            current = crypto.current_key_id()
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        self._check_readable()
        totals: dict[str, Counts] = {}
        for target in TARGETS:
            for model in _models(target):
                counts = self._rotate(model, target.fields, current=current, batch_size=batch_size,
                                      dry_run=dry_run, reindex_all=reindex_all)
                totals[model._meta.label] = counts
                verb = "would rotate" if dry_run else "rotated"
                self.stdout.write(f"{model._meta.label}: {counts.rows} rows, {verb} {counts.rotated} "
                                  f"({counts.values} values re-encrypted, {counts.indexes} indexes recomputed)")
        if not dry_run:
            self._refresh_party_indexes()
        left = self._left_under_old_keys(current)
        conflicts = {label: c.conflicts for label, c in totals.items() if c.conflicts}
        summary = {label: {"rows": c.rows, "rotated": c.rotated, "values": c.values, "indexes": c.indexes}
                   for label, c in totals.items()}
        if not dry_run:
            with transaction.atomic():
                audit_log(actor=None, action="crypto.rotate_key", object_type="crypto", object_id=current,
                          object_repr=f"field key {current}",
                          after={"key": current, "counts": summary, "left": left, "conflicts": conflicts})
        rotated = sum(c.rotated for c in totals.values())
        self.stdout.write(f"{'would rotate' if dry_run else 'rotated'} {rotated} rows to key {current}; "
                          f"{left} values left under old keys")
        if conflicts:
            for label, pks in conflicts.items():
                self.stderr.write(f"{label}: rows {pks[:20]} share an ID number with another record (a duplicate "
                                  "entered during the rotation): clear the ID number on the newer record, run "
                                  "this command again, then merge the two")
            raise CommandError("some rows could not be rotated (duplicate ID numbers); the old key is still needed")
        if left == 0 and not dry_run:
            self.stdout.write(self.style.SUCCESS("0 left under old keys: GRIDGOV_FIELD_KEYS_OLD can be removed"))

    def _check_readable(self) -> None:
        """Refuse before writing anything if a value was written with a key we do not have."""
        current = crypto.current_key_id()
        samples: dict[str, str] = {}
        for target in TARGETS:
            for model in _models(target):
                for name in target.fields:
                    for value in (model._default_manager.exclude(**{name: ""}).exclude(**{f"{name}__startswith":
                                                                                          f"gg1:{current}:"})
                                  .values_list(name, flat=True).iterator()):
                        kid = crypto.key_id_of(value) if value.startswith(f"{crypto.PREFIX}:") else "?"
                        if kid == "?":
                            raise CommandError(f"{model._meta.label}.{name} holds a value that is not a gridgov "
                                               "ciphertext; nothing was changed")
                        samples.setdefault(kid, value)
        for kid, value in samples.items():
            try:
                crypto.decrypt(value)
            except Exception as exc:
                raise CommandError(f"values were encrypted with key {kid}, which is neither GRIDGOV_FIELD_KEY "
                                   "nor in GRIDGOV_FIELD_KEYS_OLD; nothing was changed") from exc

    def _refresh_party_indexes(self) -> None:
        """Dispute parties derive from blind indexes: a resident party without a phone of its own carries its
        resident's phone index, and a free-text person's identity is "p:<phone index>" (as the disputes
        services write them). Bring both in line with the recomputed indexes, so that repeated disputes
        between the same people are still recognised after the rotation."""
        from django.db.models import OuterRef, Subquery, Value
        from django.db.models.functions import Coalesce, Concat

        from gridgov.disputes.models import Party
        from gridgov.residents.models import Resident

        resident_index = Resident.objects.filter(pk=OuterRef("resident_id")).values("phone_index")[:1]
        with transaction.atomic():
            Party.objects.filter(phone="", resident__isnull=False).update(
                phone_index=Coalesce(Subquery(resident_index), Value("")))
            Party.objects.filter(resident__isnull=True, credit_code="").exclude(phone_index="").update(
                identity=Concat(Value("p:"), "phone_index"))

    def _left_under_old_keys(self, current: str) -> int:
        left = 0
        for target in TARGETS:
            for model in _models(target):
                for name in target.fields:
                    left += (model._default_manager.exclude(**{name: ""})
                             .exclude(**{f"{name}__startswith": f"gg1:{current}:"}).count())
        return left

    def _rotate(self, model, fields: dict[str, str | None], *, current: str, batch_size: int, dry_run: bool,
                reindex_all: bool) -> Counts:
        counts = Counts()
        manager = model._default_manager
        pk = model._meta.pk.attname
        columns = [pk, *fields, *(i for i in fields.values() if i)]
        last = None
        while True:
            qs = manager.order_by(pk).only(*columns)
            if last is not None:
                qs = qs.filter(**{f"{pk}__gt": last})
            batch = list(qs[:batch_size])
            if not batch:
                return counts
            last = getattr(batch[-1], pk)
            counts.rows += len(batch)
            changed, touched = [], set()
            for obj in batch:
                if self._rotate_row(obj, fields, current=current, reindex_all=reindex_all, counts=counts,
                                    touched=touched):
                    changed.append(obj)
            counts.rotated += len(changed)
            if dry_run or not changed:
                continue
            update = [f for f in columns if f != pk and f in touched]
            try:
                with transaction.atomic():
                    manager.bulk_update(changed, update)
            except IntegrityError:
                # a duplicate blind index (same ID number entered under the new key meanwhile): row by row
                for obj in changed:
                    try:
                        with transaction.atomic():
                            manager.filter(**{pk: getattr(obj, pk)}).update(
                                **{f: getattr(obj, f) for f in update})
                    except IntegrityError:
                        counts.rotated -= 1
                        counts.conflicts.append(getattr(obj, pk))

    @staticmethod
    def _rotate_row(obj, fields: dict[str, str | None], *, current: str, reindex_all: bool, counts: Counts,
                    touched: set) -> bool:
        changed = False
        for name, index in fields.items():
            value = getattr(obj, name)
            if not value:
                continue
            old = crypto.key_id_of(value) != current
            if not old and not (reindex_all and index):
                continue
            plain = crypto.decrypt(value)
            if old:
                setattr(obj, name, crypto.encrypt(plain))
                touched.add(name)
                counts.values += 1
                changed = True
            if index:
                new_index = crypto.blind_index(plain)
                if getattr(obj, index) != new_index:
                    setattr(obj, index, new_index)
                    touched.add(index)
                    counts.indexes += 1
                    changed = True
        return changed
