"""Every key shape of the single table, in one place: the item keys (``PK``/``SK``) and the index
partitions and sort keys (``GSI1``–``GSI4``) of each item of the item table in
docs/ARCHITECTURE.md ("Single table"), grouped by what they belong to. Adapters build their
keys here and nowhere else; use cases never see a key, a prefix or an index name (their ports
have methods named for intent).

Keys are plain values (``{"PK": …, "SK": …}``); the adapter serializes them with ``to_item``.
"""

from __future__ import annotations

import hashlib
from typing import Any

from functions.core import notices

Key = dict[str, str]

# -- the order and what hangs under it (``PK = ORDER#<id>``; read together with one Query) -----
ORDER_SK = "ORDER"
DETAILS_SK = "DETAILS"
SHIPMENT_PREFIX = "SHIPMENT#"
INVOICE_PREFIX = "INVOICE#"
NOTICE_PREFIX = "NOTICE#"
FLAG_PREFIX = "FLAG#"
RESERVATION_PART_PREFIX = "RESERVE#"
RETURN_PREFIX = "RETURN#"
CREDIT_NOTE_PREFIX = "CREDITNOTE#"
#: The order's return ledger: units returned or being returned per line, and the returns' count.
RETURNS_SK = "RETURNS"
_ORDER_PREFIX = "ORDER#"


def order_pk(order_id: str) -> str:
    return f"{_ORDER_PREFIX}{order_id}"


def order_id_of_pk(pk: str) -> str:
    """``ORDER#<id>`` → ``<id>`` (a stream record names its item only by its keys)."""
    return pk.removeprefix(_ORDER_PREFIX)


def header_key(order_id: str) -> Key:
    return {"PK": order_pk(order_id), "SK": ORDER_SK}


def details_key(order_id: str) -> Key:
    return {"PK": order_pk(order_id), "SK": DETAILS_SK}


def shipment_key(order_id: str, shipment_id: str) -> Key:
    return {"PK": order_pk(order_id), "SK": f"{SHIPMENT_PREFIX}{shipment_id}"}


def invoice_key(order_id: str, number: str) -> Key:
    return {"PK": order_pk(order_id), "SK": f"{INVOICE_PREFIX}{number}"}


def rendered_key(order_id: str, number: str) -> Key:
    """The mark that an invoice's or credit note's files are rendered (put once, after them)."""
    return {"PK": order_pk(order_id), "SK": f"RENDERED#{number}"}


def credit_note_key(order_id: str, return_id: str, receipt_id: str, corrects: str) -> Key:
    """A credit note, keyed by what it credits (a receipt of a return, against one invoice), not
    by its number: its put's ``attribute_not_exists`` makes it once, whatever number it took."""
    return {"PK": order_pk(order_id), "SK": f"{CREDIT_NOTE_PREFIX}{return_id}#{receipt_id}#{corrects}"}


def return_key(order_id: str, return_id: str) -> Key:
    return {"PK": order_pk(order_id), "SK": f"{RETURN_PREFIX}{return_id}"}


def return_ledger_key(order_id: str) -> Key:
    """One item per order with returns: ``returns`` (how many were authorised, the next one's
    ordinal) and ``lines`` (units per line id returned or on their way back). Every
    authorisation rewrites it on condition that ``returns`` is as read, so concurrent returns
    of one line can never together exceed what was dispatched."""
    return {"PK": order_pk(order_id), "SK": RETURNS_SK}


def notice_key(order_id: str, notice_id: str) -> Key:
    return {"PK": order_pk(order_id), "SK": f"{NOTICE_PREFIX}{notice_id}"}


def order_notice_key(order_id: str, kind: str) -> Key:
    """The claim of a notice about the order as a whole (one per order and kind, e.g. its
    confirmation), built from the one notice id shape notify claims with (``core/notices.py``).
    A transition that makes the notice inapplicable (``core.notices.superseded_by``) marks
    this key in its own transaction, so a later claim's condition refuses it."""
    return notice_key(order_id, notices.notice_id(kind, order_id))


#: The attribute of that mark on a notice item: ``{"reason": …, "at": …}``.
NOTICE_SUPERSEDED = "superseded"


def flag_key(order_id: str, shipment_id: str) -> Key:
    return {"PK": order_pk(order_id), "SK": f"{FLAG_PREFIX}{shipment_id}"}


def reservation_part_key(order_id: str, execution_id: str, number: int) -> Key:
    """One part of a large order's reservation (``core/adapters/reservation_parts.py``): the stock
    records one transaction reserved for the execution carrying the order, and the marker that
    makes that transaction — and its release or shipping — happen once."""
    return {"PK": order_pk(order_id), "SK": f"{RESERVATION_PART_PREFIX}{execution_id}#{number:03d}"}


def reservation_parts_prefix() -> str:
    """``begins_with`` of every reservation part of an order (a Query under ``ORDER#<id>``)."""
    return RESERVATION_PART_PREFIX


def order_sort_key(created_at: str, order_id: str) -> str:
    """The sort key of every order listing: newest first when read descending."""
    return f"{created_at}#{order_id}"


def order_index_keys(channel: str, customer_id: str, created_at: str, order_id: str) -> dict[str, str]:
    """A header's three listings: by channel (GSI1), by the channel's customer (GSI2), by month (GSI3)."""
    sort_key = order_sort_key(created_at, order_id)
    return {"GSI1PK": channel_orders(channel), "GSI1SK": sort_key,
            "GSI2PK": customer_orders(channel, customer_id), "GSI2SK": sort_key,
            "GSI3PK": orders_of_month(created_at[:7]), "GSI3SK": sort_key}


def channel_orders(channel: str) -> str:
    """GSI1: a channel's orders."""
    return f"CHANNEL#{channel}"


def customer_orders(channel: str, customer_id: str) -> str:
    """GSI2: one customer's orders at a channel."""
    return f"CUSTOMER#{channel}#{customer_id}"


def orders_of_month(month: str) -> str:
    """GSI3: every order captured in a month (``yyyy-mm``)."""
    return f"ORDERS#{month}"


def node_shipments(node_id: str, status: str) -> str:
    """GSI1: a node's shipments in one status (its open fulfilment requests)."""
    return f"NODE#{node_id}#SHIPMENTS#{status}"


def node_returns(node_id: str, status: str) -> str:
    """GSI1: the returns in one status sent to a node (``GET /returns?status=AUTHORIZED``)."""
    return f"NODE#{node_id}#RETURNS#{status}"


def request_sort_key(requested_at: str, shipment_id: str) -> str:
    """GSI1 sort key of a shipment: a node reads its requests oldest first."""
    return f"{requested_at}#{shipment_id}"


def invoices_of_month(legal_entity: str, month: str) -> str:
    """GSI1: a legal entity's invoices of a month (finance's listing)."""
    return f"INVOICES#{legal_entity}#{month}"


def invoice_sort_key(issued_at: str, number: str) -> str:
    return f"{issued_at}#{number}"


def document_by_number(number: str) -> str:
    """GSI2: an invoice or credit note by its number (``GET /invoices/{number}``), which names
    neither its order nor its month."""
    return f"DOCUMENT#{number}"


def document_index_keys(number: str) -> dict[str, str]:
    return {"GSI2PK": document_by_number(number), "GSI2SK": number}


#: GSI1: finance's review list (flags of invoicing and refund runs that failed for good), oldest
#: first; a resolved flag leaves it (``GET /finance/review``).
FINANCE_REVIEW = "FINANCE#REVIEW"


def review_sort_key(at: str, order_id: str) -> str:
    return f"{at}#{order_id}"

#: GSI4, the open orders (sparse, KEYS_ONLY): a header carries ``GSI4PK``/``GSI4SK`` from its
#: capture until a transition into a final status (COMPLETED, CANCELLED) removes them, so the
#: reconciler finds the orders due for a check with one Query per shard, never a Scan.
OPEN_INDEX = "GSI4"
OPEN_INDEX_PK, OPEN_INDEX_SK = "GSI4PK", "GSI4SK"
#: Write sharding of the open orders: one partition could take ~1,000 writes a second.
OPEN_SHARDS = 8


def open_shard(order_id: str) -> int:
    """The order's shard (0-7), stable for its life: a hash of its id."""
    return hashlib.sha256(order_id.encode()).digest()[0] % OPEN_SHARDS


def open_orders(shard: int) -> str:
    """GSI4 partition of one shard of the open orders."""
    return f"OPEN#{shard}"


def open_sort_key(check_after: str, order_id: str) -> str:
    """GSI4 sort key: when the order is due for a check (UTC ISO 8601, sorts as text), then its id."""
    return f"{check_after}#{order_id}"


def open_order_keys(order_id: str, check_after: str) -> dict[str, str]:
    """The index attributes of an open order's header (set by the capture's Put)."""
    return {OPEN_INDEX_PK: open_orders(open_shard(order_id)), OPEN_INDEX_SK: open_sort_key(check_after, order_id)}


#: What a transition into a final status REMOVEs from the header (in its existing update).
CLOSE_OPEN_ORDER = f"{OPEN_INDEX_PK}, {OPEN_INDEX_SK}"

# -- items of their own -----------------------------------------------------------------------


def counter_key(legal_entity: str, year: int, series: str = "INV") -> Key:
    """The gapless number counter of a legal entity, year and series (``INV`` invoices, ``CN``
    credit notes: each numbered gaplessly on its own)."""
    return {"PK": _counter_pk(legal_entity, str(year), series), "SK": "COUNTER"}


def _counter_pk(legal_entity: str, year: str, series: str = "INV") -> str:
    return f"COUNTER#{series}#{legal_entity}#{year}"


def channel_ref_key(channel: str, channel_order_id: str) -> Key:
    """Uniqueness of a channel's own order id."""
    return {"PK": f"CHANNEL#{channel}#REF#{channel_order_id}", "SK": "REF"}


def channel_settings_key(channel: str) -> Key:
    """A channel's settings (``PUT /channels/{channel}/settings``: its return window)."""
    return {"PK": _channel_settings_pk(channel), "SK": "SETTINGS"}


def _channel_settings_pk(channel: str) -> str:
    # not under CHANNEL#: an IAM pattern CHANNEL#* would also grant the channels' order refs
    return f"SETTINGS#CHANNEL#{channel}"


def customer_pk(channel: str, customer_id: str) -> str:
    """An on-account customer's partition: its credit account, its open items and its payments
    (the same text as GSI2's ``customer_orders``, but the table's own partition key)."""
    return f"CUSTOMER#{channel}#{customer_id}"


CREDIT_SK = "CREDIT"
OPEN_ITEM_PREFIX = "OPEN#"
CUSTOMER_PAYMENT_PREFIX = "PAYMENT#"


def credit_key(channel: str, customer_id: str) -> Key:
    """A B2B customer's on-account credit: ``currency``, ``credit_limit``, ``exposure``,
    ``available_credit`` (= limit − exposure), ``payment_terms_days``."""
    return {"PK": customer_pk(channel, customer_id), "SK": CREDIT_SK}


def open_item_key(channel: str, customer_id: str, invoice_number: str) -> Key:
    """An on-account invoice's open item (``open_amount`` still owed, ``due_date``), beside the
    account: written with the invoice's settle, reduced by its payments and credit notes."""
    return {"PK": customer_pk(channel, customer_id), "SK": f"{OPEN_ITEM_PREFIX}{invoice_number}"}


def customer_payment_key(channel: str, customer_id: str, invoice_number: str, reference: str) -> Key:
    """A payment received against an on-account invoice, keyed by the invoice and the payer's
    reference: its put's ``attribute_not_exists`` makes the same reference count once."""
    return {"PK": customer_pk(channel, customer_id),
            "SK": f"{CUSTOMER_PAYMENT_PREFIX}{invoice_number}#{reference}"}


def receivables_range() -> tuple[str, str]:
    """``SK BETWEEN`` bounds of the account and its open items (``CREDIT`` sorts before
    ``OPEN#``, the payments after): a customer's balance is one Query."""
    return CREDIT_SK, f"{OPEN_ITEM_PREFIX}~"


def is_credit_account(item: dict[str, Any]) -> bool:
    return item.get("SK") == CREDIT_SK


def is_open_item(item: dict[str, Any]) -> bool:
    return str(item.get("SK", "")).startswith(OPEN_ITEM_PREFIX)


def idempotency_key(principal: str, key: str) -> Key:
    """A capture's ``Idempotency-Key`` (hashed: any length, any characters)."""
    return {"PK": _idempotency_pk(principal, hashlib.sha256(key.encode()).hexdigest()), "SK": "IDEMPOTENCY"}


def _idempotency_pk(principal: str, digest: str) -> str:
    return f"IDEMPOTENCY#{principal}#{digest}"


def api_key_key(key_hash: str) -> Key:
    return {"PK": f"APIKEY#{key_hash}", "SK": "APIKEY"}


#: GSI1: every API key (operators list and rotate keys without a Scan).
API_KEYS = "APIKEYS"


def api_key_listing(role: str, principal_id: str | None = None, created_at: str = "") -> str:
    """GSI1 sort key of an API key, ``<role>#<principal>#<created>``; a prefix of it when the
    later parts are left out."""
    return f"{role}#" if principal_id is None else f"{role}#{principal_id}#{created_at}"


# -- stock and the node network ---------------------------------------------------------------
STOCK_PREFIX = "NODE#"
#: The node network's one partition: every node (``NODE#<id>``) and the network's version
#: (``VERSION``), so a consistent Query reads the whole network and a consistent GetItem tells
#: whether it changed (an index could not be read consistently).
NETWORK_PK = "NODES"
NETWORK_NODE_PREFIX = "NODE#"


_SKU_PREFIX = "SKU#"


def sku_pk(sku: str) -> str:
    return f"{_SKU_PREFIX}{sku}"


def stock_key(sku: str, node_id: str) -> Key:
    return {"PK": sku_pk(sku), "SK": f"{STOCK_PREFIX}{node_id}"}


#: A backordered order waiting for a SKU, in the SKU's partition beside its stock records:
#: ``BACKORDER#<backordered_at>#<order id>`` sorts before ``NODE#``, so one Query of the
#: partition reads its waiting orders oldest first and its stock records.
BACKORDER_PREFIX = "BACKORDER#"


#: The attribute on a stock record that a write raising its count sets (the time; PUT
#: inventory today) and the restock consumer removes once it has tried the SKU's waiting
#: orders: the stream filter passes only stock writes carrying it, so a reservation, which
#: never sets it, wakes no consumer.
RESTOCKED = "restocked_at"


def waiting_backorder_key(sku: str, backordered_at: str, order_id: str) -> Key:
    return {"PK": sku_pk(sku), "SK": f"{BACKORDER_PREFIX}{backordered_at}#{order_id}"}


def node_key(node_id: str) -> Key:
    return {"PK": NETWORK_PK, "SK": f"{NETWORK_NODE_PREFIX}{node_id}"}


def network_version_key() -> Key:
    """The node network's version: every node write adds 1 to it in the same transaction."""
    return {"PK": NETWORK_PK, "SK": "VERSION"}


def legal_entity_key(entity_id: str) -> Key:
    return {"PK": f"ENTITY#{entity_id}", "SK": "ENTITY"}


# -- reading an item's kind back from its keys (stream images, the order's Query) ---------------


def is_header(item: dict[str, Any]) -> bool:
    return item.get("SK") == ORDER_SK


def is_details(item: dict[str, Any]) -> bool:
    return item.get("SK") == DETAILS_SK


def is_shipment(item: dict[str, Any]) -> bool:
    return str(item.get("SK", "")).startswith(SHIPMENT_PREFIX)


def is_invoice(item: dict[str, Any]) -> bool:
    return str(item.get("SK", "")).startswith(INVOICE_PREFIX)


def is_credit_note(item: dict[str, Any]) -> bool:
    return str(item.get("SK", "")).startswith(CREDIT_NOTE_PREFIX)


def is_return(item: dict[str, Any]) -> bool:
    return str(item.get("SK", "")).startswith(RETURN_PREFIX)


def is_return_ledger(item: dict[str, Any]) -> bool:
    return item.get("SK") == RETURNS_SK


def is_notice(item: dict[str, Any]) -> bool:
    return str(item.get("SK", "")).startswith(NOTICE_PREFIX)


def notice_ref_of(item: dict[str, Any]) -> str:
    """``NOTICE#<kind>#<ref>`` → ``<ref>`` (the order id, or the shipment, return or credit note
    the notice is about)."""
    return str(item.get("SK", "")).rsplit("#", 1)[-1]


def is_flag(item: dict[str, Any]) -> bool:
    return str(item.get("SK", "")).startswith(FLAG_PREFIX)


def is_stock(item: dict[str, Any]) -> bool:
    return str(item.get("PK", "")).startswith(_SKU_PREFIX) and str(item.get("SK", "")).startswith(STOCK_PREFIX)


def is_waiting_backorder(item: dict[str, Any]) -> bool:
    return str(item.get("PK", "")).startswith(_SKU_PREFIX) and str(item.get("SK", "")).startswith(BACKORDER_PREFIX)


def is_reservation_part(item: dict[str, Any]) -> bool:
    return str(item.get("SK", "")).startswith(RESERVATION_PART_PREFIX)


# -- the partitions, for IAM (``dynamodb:LeadingKeys``) -----------------------------------------
_ANY = "*"


#: A partition key shape: its IAM ``StringLike`` pattern (the key function above with ``*`` for
#: every variable part) and the index it is the partition key of (None: the table's ``PK``).
#: Plain tuples: every function imports this module, and a dataclass would cost its cold start.
Partition = tuple[str, str | None]


#: Every partition key shape of the table and its indexes, by name. A function's policy allows
#: its table actions only on the partitions its construct names (infra/constructs/data.py,
#: ``Data.grant(..., partitions=...)``); tests/least_privilege.py holds them to the calls the
#: functions make. A new key shape gets its entry here.
PARTITIONS: dict[str, Partition] = {
    "order": (order_pk(_ANY), None),
    "stock": (sku_pk(_ANY), None),
    "network": (NETWORK_PK, None),
    "api_key": (api_key_key(_ANY)["PK"], None),
    "channel_ref": (channel_ref_key(_ANY, _ANY)["PK"], None),
    # the on-account customer's partition: account, open items, payments
    "credit": (customer_pk(_ANY, _ANY), None),
    "idempotency": (_idempotency_pk(_ANY, _ANY), None),
    "invoice_counter": (_counter_pk(_ANY, _ANY), None),
    "credit_note_counter": (_counter_pk(_ANY, _ANY, "CN"), None),
    "legal_entity": (legal_entity_key(_ANY)["PK"], None),
    "channel_settings": (_channel_settings_pk(_ANY), None),
    "channel_orders": (channel_orders(_ANY), "GSI1"),
    "customer_orders": (customer_orders(_ANY, _ANY), "GSI2"),
    "orders_of_month": (orders_of_month(_ANY), "GSI3"),
    "node_shipments": (node_shipments(_ANY, _ANY), "GSI1"),
    "node_returns": (node_returns(_ANY, _ANY), "GSI1"),
    "invoices_of_month": (invoices_of_month(_ANY, _ANY), "GSI1"),
    "document_by_number": (document_by_number(_ANY), "GSI2"),
    "finance_review": (FINANCE_REVIEW, "GSI1"),
    "api_keys": (API_KEYS, "GSI1"),
    "open_orders": ("OPEN#" + _ANY, OPEN_INDEX),
}
