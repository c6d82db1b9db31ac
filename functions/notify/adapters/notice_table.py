"""Notice records ``ORDER#<id>`` / ``NOTICE#<kind>#<ref>``: one per event the customer is told
about, holding each channel (email, SMS) with its status — the claim that makes each message
once — what was sent and the provider's message id (the local outbox matches what SES and SNS
accepted by it). Claim and result are one write each, whatever the number of channels.

A transition that makes a notice inapplicable (a cancellation: the order's confirmation and
backorder notice) marks the notice's key with ``superseded`` in its own transaction, whether
or not the notice was claimed yet (``capture/adapters/order_table.py``). A claim after that
finds the key taken (its condition is ``attribute_not_exists(PK)``), and the item the failed
condition returns (``ReturnValuesOnConditionCheckFailure``, no extra read) says why: the
channels are then claimed as SKIPPED, once. A claim before the cancel sent what was true then;
a withdrawn channel is claimed again only while no such mark exists.

The claim's put also writes ``lease_until`` (now + the lease; no write of its own): a channel
still SENDING after that was never recorded — the sender crashed between claim and record, or
the provider's answer and the record were both lost — and may be claimed again (the
reconciler asks for it), once per lease: at most twice in all (docs/ARCHITECTURE.md, Notices).
The lease is far longer than an invocation (15 s), so a send in flight is never doubled.
"""

from __future__ import annotations

import hashlib
import secrets
from typing import Any

from botocore.exceptions import ClientError

from functions.core.adapters.dynamodb import TableAdapter, from_item, to_item, to_values
from functions.core.adapters.keys import NOTICE_SUPERSEDED, notice_key
from functions.core.adapters.timeline import append_entries
from functions.core.errors import as_transient
from functions.core.events import after, utc_now
from functions.core.orders import TimelineEntry
from functions.notify.ports import Claim

SENDING, SENT, SKIPPED, WITHDRAWN = "SENDING", "SENT", "SKIPPED", "WITHDRAWN"
#: ``record``'s outcome for a send whose answer was lost (stored as WITHDRAWN + ``unconfirmed``)
UNCONFIRMED_SEND = "UNCONFIRMED"
#: a channel's flag: its last send went out unconfirmed
UNCONFIRMED = "unconfirmed"
#: who claimed the notice: the delivery's claimant (a workflow execution, a stream record),
#: else the put's own token (8 hex digits)
CLAIMED_BY = "claimed_by"
#: set when the claimant took its own claim again (once)
RETAKEN = "retaken"
#: The mark a transition leaves on a notice it makes inapplicable: ``{"reason": …, "at": …}``.
SUPERSEDED = NOTICE_SUPERSEDED


def _key(order_id: str, notice_id: str) -> dict[str, Any]:
    return to_item(notice_key(order_id, notice_id))


def _refused(exc: ClientError) -> dict[str, Any] | None:
    """The item a refused condition returned (``{}`` if none), or None if it was no refusal."""
    if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
        return None
    return from_item(exc.response.get("Item") or {})


def _reason(item: dict[str, Any]) -> str | None:
    mark = item.get(SUPERSEDED)
    return str(mark.get("reason") or "no longer applies") if isinstance(mark, dict) else None


def _token(claimant: str | None) -> str:
    """8 hex digits: the claimant's (a digest: the item stays small), else random."""
    return hashlib.sha256(claimant.encode()).hexdigest()[:8] if claimant else secrets.token_hex(4)


class NoticeTable(TableAdapter):
    def __init__(self, table_name: str, dynamodb_client: Any = None, *, lease_seconds: int = 300) -> None:
        super().__init__(table_name, dynamodb_client)
        self.lease_seconds = lease_seconds

    def claim(self, order_id: str, notice_id: str, kind: str, channels: dict[str, dict[str, Any]],
              inapplicable: str | None = None, claimant: str | None = None) -> Claim:
        """Claim the channels of a notice: SENDING (the ones this call may send) or, when the
        notice no longer applies, SKIPPED (the ones this call records as skipped). A new notice
        is one conditional put; a repeat costs a request only for a channel withdrawn after a
        failed send (or a notice marked superseded, claimed as skipped once)."""
        status = SKIPPED if inapplicable else SENDING
        item: dict[str, Any] = {**notice_key(order_id, notice_id), "type": "notice", "order_id": order_id,
                                "kind": kind, "channels": {c: {**r, "status": status} for c, r in channels.items()}}
        now = utc_now()
        lease = after(now, self.lease_seconds)
        if inapplicable:
            item[SUPERSEDED] = {"reason": inapplicable}
        else:
            item["lease_until"] = lease
            # whose claim this is: the delivery's claimant (the same on its retries), else this
            # call's token — a put whose answer was lost is refused on the client's retry by its
            # own item, which it then knows for its own (and sends), not another delivery's
            item[CLAIMED_BY] = _token(claimant)
        claimed = frozenset(channels)
        try:
            self.db.put_item(TableName=self.table, Item=to_item(item), ConditionExpression="attribute_not_exists(PK)",
                             ReturnValuesOnConditionCheckFailure="ALL_OLD")
            return Claim(skip=claimed, reason=inapplicable) if inapplicable else Claim(send=claimed)
        except ClientError as exc:
            old = _refused(exc)
            if old is None:
                raise
        if not inapplicable and old.get(CLAIMED_BY) == item[CLAIMED_BY]:
            # this delivery's own claim: a retry (its put's answer lost, or it failed before
            # recording): its channels still SENDING are taken again, once
            mine = self._own_again(order_id, notice_id, old, channels)
            if mine is not None:
                return mine
        reason = inapplicable or _reason(old)
        held = old.get("channels")
        if held is None:  # only a transition's mark: the notice was never claimed, and now never sent
            if reason is None or not self._skip_all(order_id, notice_id, channels):
                return Claim()
            return Claim(skip=frozenset(channels), reason=reason)
        send: set[str] = set()
        skip: set[str] = set()
        expired = sorted(c for c in channels if (held.get(c) or {}).get("status") == SENDING
                         and old.get("lease_until") and str(old["lease_until"]) < now)
        if expired and reason is None and self._retake(order_id, notice_id, {c: channels[c] for c in expired},
                                                        seen=str(old["lease_until"]), lease=lease):
            send.update(expired)
        elif expired and reason is not None:
            skip.update(c for c in expired if self._take(
                order_id, notice_id, c, {**channels[c], "status": SKIPPED}, unmarked=False, held=SENDING) is None)
        resent = {c for c in channels if (held.get(c) or {}).get(UNCONFIRMED)}
        for channel in (c for c in channels if (held.get(c) or {}).get("status") == WITHDRAWN):
            if reason is None:
                record = {**channels[channel], "status": SENDING, **({UNCONFIRMED: True} if channel in resent else {})}
                refused = self._take(order_id, notice_id, channel, record, unmarked=True, lease=lease)
                if refused is None:
                    send.add(channel)
                    continue
                reason = _reason(refused)  # marked since the put: skipped, if still withdrawn
                if reason is None:
                    continue
            if self._take(order_id, notice_id, channel, {**channels[channel], "status": SKIPPED},
                          unmarked=False) is None:
                skip.add(channel)
        return Claim(send=frozenset(send), skip=frozenset(skip), reason=reason if skip else None,
                     resent=frozenset(send & resent))

    def _own_again(self, order_id: str, notice_id: str, old: dict[str, Any],
                   channels: dict[str, dict[str, Any]]) -> Claim | None:
        """The channels of this delivery's own claim still SENDING, taken again once (the
        ``retaken`` flag, set on the condition it is not): None when there are none, or a
        retry took them before — then the claim is read as any other delivery's."""
        held = old.get("channels") or {}
        sending = sorted(c for c in channels if (held.get(c) or {}).get("status") == SENDING)
        if not sending or old.get(RETAKEN):
            return None
        try:
            self.db.update_item(
                TableName=self.table, Key=_key(order_id, notice_id), UpdateExpression="SET #r = :yes",
                ConditionExpression=f"{CLAIMED_BY} = :me AND attribute_not_exists(#r)",
                ExpressionAttributeNames={"#r": RETAKEN},
                ExpressionAttributeValues=to_values({":yes": True, ":me": old[CLAIMED_BY]}))
        except ClientError as exc:
            if _refused(exc) is None:
                raise
            return None
        return Claim(send=frozenset(sending))

    def _retake(self, order_id: str, notice_id: str, channels: dict[str, dict[str, Any]], *, seen: str,
                lease: str) -> bool:
        """Claim again, with a new lease, channels left SENDING past the lease ``seen`` (never
        recorded): one conditional update on that lease, so of two concurrent re-claims one wins
        (True), and never while a transition marked the notice."""
        names: dict[str, str] = {"#s": "status"}
        values: dict[str, Any] = {":seen": seen, ":lease": lease, ":sending": SENDING}
        sets, checks = ["lease_until = :lease"], ["lease_until = :seen", f"attribute_not_exists({SUPERSEDED})"]
        for i, (channel, record) in enumerate(sorted(channels.items())):
            names[f"#c{i}"], values[f":r{i}"] = channel, {**record, "status": SENDING}
            sets.append(f"channels.#c{i} = :r{i}")
            checks.append(f"channels.#c{i}.#s = :sending")
        try:
            self.db.update_item(
                TableName=self.table, Key=_key(order_id, notice_id), UpdateExpression="SET " + ", ".join(sets),
                ConditionExpression=" AND ".join(checks), ExpressionAttributeNames=names,
                ExpressionAttributeValues=to_values(values))
            return True
        except ClientError as exc:
            if _refused(exc) is None:
                raise
            return False

    def _take(self, order_id: str, notice_id: str, channel: str, record: dict[str, Any], *,
              unmarked: bool, held: str = WITHDRAWN, lease: str | None = None) -> dict[str, Any] | None:
        """Set a channel's record if it is ``held`` (withdrawn; ``unmarked``: only while no
        transition marked the notice), with a new ``lease`` when given; None if it was set,
        else the item as the refused condition found it."""
        condition = "channels.#c.#s = :held" + (f" AND attribute_not_exists({SUPERSEDED})" if unmarked else "")
        values: dict[str, Any] = {":r": record, ":held": held}
        if lease is not None:
            values[":lease"] = lease
        try:
            self.db.update_item(
                TableName=self.table, Key=_key(order_id, notice_id),
                UpdateExpression="SET channels.#c = :r" + (", lease_until = :lease" if lease is not None else ""),
                ConditionExpression=condition, ExpressionAttributeNames={"#c": channel, "#s": "status"},
                ExpressionAttributeValues=to_values(values),
                ReturnValuesOnConditionCheckFailure="ALL_OLD")
            return None
        except ClientError as exc:
            old = _refused(exc)
            if old is None:
                raise
            return old

    def _skip_all(self, order_id: str, notice_id: str, channels: dict[str, dict[str, Any]]) -> bool:
        """Claim every channel of a marked, never claimed notice as SKIPPED (True), unless a
        concurrent delivery of the event did so first (False)."""
        try:
            self.db.update_item(
                TableName=self.table, Key=_key(order_id, notice_id), UpdateExpression="SET channels = :c",
                ConditionExpression="attribute_not_exists(channels)",
                ExpressionAttributeValues=to_values({":c": {c: {**r, "status": SKIPPED} for c, r in channels.items()}}))
            return True
        except ClientError as exc:
            if _refused(exc) is None:
                raise
            return False

    def record(self, order_id: str, notice_id: str, results: dict[str, tuple[str, str | None]],
               entries: list[TimelineEntry]) -> None:
        """Each claimed channel's outcome — (SENT, message id), (SKIPPED, None), (WITHDRAWN,
        None) so a retry sends it, or (UNCONFIRMED, None): withdrawn too, its send's answer lost,
        so the retry's send is its last (``Claim.resent``) — and the order's timeline entries, in
        one update."""
        if not results:
            return
        names: dict[str, str] = {"#s": "status"}
        values: dict[str, Any] = {}
        sets: list[str] = []
        for i, (channel, (status, message_id)) in enumerate(sorted(results.items())):
            names[f"#c{i}"] = channel
            values[f":s{i}"], values[f":m{i}"] = (WITHDRAWN if status == UNCONFIRMED_SEND else status), message_id
            sets += [f"channels.#c{i}.#s = :s{i}", f"channels.#c{i}.message_id = :m{i}"]
            if status == UNCONFIRMED_SEND:
                names["#u"], values[":yes"] = UNCONFIRMED, True
                sets.append(f"channels.#c{i}.#u = :yes")
        try:
            self.db.update_item(**append_entries({
                "TableName": self.table, "Key": _key(order_id, notice_id), "UpdateExpression": "SET " + ", ".join(sets),
                "ExpressionAttributeNames": names, "ExpressionAttributeValues": to_values(values)}, entries))
        except Exception as exc:  # a throttle or a lost connection: the service tries again
            transient = as_transient(exc)
            if transient is None:
                raise
            raise transient from exc

