"""The OpenSearch store: the production store for a real cluster.

Layout (created by ``kubetrail setup``, see :mod:`kubetrail.store.opensearch.setup`):
indices ``<prefix>-000001, -000002, …`` behind the write alias ``<prefix>``,
rolled over and deleted after the retention by ISM. Writes go to the alias,
reads to ``<prefix>-0*`` (every numbered index, whichever is the write index; not
another install's ``<prefix>-dev-000001``, see
:func:`~kubetrail.store.opensearch.index_pattern`).

**Writes** are bulk ``create`` requests with the document ``id`` as ``_id``:
a 409 means "already stored" and counts as a duplicate, so a replayed batch,
a relist or a second shipper replica is harmless. After a rollover the ids of a
batch are first looked up in the rolled indices (a 409 holds within one index
only). Batches are chunked by count and bytes (opensearch-py's
``streaming_bulk``), up to four chunks in flight at once; 429s are retried by the
helper with backoff, connection failures by re-sending what got no answer (safe:
ids), and any other per-item error is reported with its reason, never dropped.

**Reads** sort by ``(timestampMicros, id)`` and page with ``search_after``:
the API's cursor is that pair, identical to the embedded store's.
**Aggregations** page through a ``composite`` aggregation (count, min, max and
the newest event's id per group), order and cut the groups like the embedded
store does, then fetch the newest documents by id.
**Retention** deletes expired events by query; without ISM it first rolls the
write index over when due and drops whole expired indices
(:meth:`OpenSearchStore.manage_indices`, see :mod:`kubetrail.store.opensearch.retention`).
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import datetime
from typing import Any, NamedTuple, cast

from opensearchpy import OpenSearch, helpers
from opensearchpy.exceptions import (
    ConnectionError as OSConnectionError,
)
from opensearchpy.exceptions import (
    ConnectionTimeout,
    NotFoundError,
    RequestError,
    TransportError,
)

from kubetrail.events.audit import AuditRecord
from kubetrail.events.model import EventDocument
from kubetrail.events.projection import project
from kubetrail.events.timing import format_rfc3339, from_micros, to_micros
from kubetrail.store.base import (
    AggregateQuery,
    AggregateResult,
    AuditResult,
    Bucket,
    EventPage,
    EventQuery,
    Health,
    IndexChanges,
    InvalidQuery,
    StoreError,
    StoreUnavailable,
    WriteError,
    WriteResult,
    aggregate_slice_by_slice,
    check_group_keys,
    time_slices,
)
from kubetrail.store.opensearch import DEFAULT_PREFIX, errors, index_pattern, queries
from kubetrail.store.opensearch.audit import AuditIndex
from kubetrail.store.opensearch.client import OrjsonSerializer
from kubetrail.store.opensearch.retention import manage_indices

log = logging.getLogger("kubetrail.store")

_COMPOSITE_PAGE = 1000
#: an aggregation asking for this many groups or more pages through a composite aggregation
_TOP_GROUPS_MAX = 10_000
_ID_CHUNK = 1000


class PreparedDocument(NamedTuple):
    """A document as the bulk request carries it: its id, its time (to look it up in
    rolled indices) and the indexed body already encoded as JSON."""

    id: str
    micros: int
    source: str


_ENCODER = OrjsonSerializer()


def prepare_document(doc: EventDocument) -> PreparedDocument | WriteError:
    """The indexed body of ``doc`` (:func:`~.queries.index_body`), encoded; or why it
    cannot be stored."""
    try:
        body = queries.index_body(dict(doc))
        return PreparedDocument(str(doc["id"]), body["timestampMicros"], _ENCODER.dumps(body))
    except (KeyError, TypeError, ValueError) as exc:
        return WriteError(id=str(doc.get("id", "?")), reason=f"bad document: {exc}")


class OpenSearchStore:
    """A :class:`~kubetrail.store.base.Store` on a cluster prepared by ``kubetrail setup``."""

    kind = "opensearch"

    def __init__(
        self,
        client: OpenSearch,
        *,
        prefix: str = DEFAULT_PREFIX,
        name: str = "opensearch",
        refresh: bool | str = False,
        chunk_docs: int = 1000,
        chunk_bytes: int = 8 * 1024 * 1024,
        connection_retries: int = 5,
        retry_backoff: float = 0.5,
        check_setup: bool = True,
        concurrency: int = 4,
    ) -> None:
        """``concurrency``: bulk requests one :meth:`write` keeps in flight at most
        (a write of more than ``chunk_docs`` documents is sent in chunks)."""
        self.client = client
        self.prefix = prefix
        self.alias = prefix
        self.pattern = index_pattern(prefix)
        self.name = name  # the URL without password, for messages
        self.refresh = refresh
        self.chunk_docs = chunk_docs
        self.chunk_bytes = chunk_bytes
        self.connection_retries = connection_retries
        self.retry_backoff = retry_backoff
        self._unrefreshed = False  # written since the last refresh we asked for
        self.concurrency = max(1, concurrency)
        self.audit = AuditIndex(client, prefix=prefix, name=name, refresh=refresh)
        if check_setup:
            self._check_setup()

    def _check_setup(self) -> None:
        try:
            # on our indices only: a user may lack permissions on other indices
            exists = self.client.indices.exists_alias(index=self.pattern, name=self.alias)
        except TransportError as exc:  # a connection failure is one too
            raise StoreUnavailable(errors.describe_error(exc, self.name)) from None
        if not exists:
            raise StoreUnavailable(
                f"OpenSearch at {self.name} has no write alias {self.alias!r}: "
                f"run `kubetrail setup --store {self.name}` first"
            )

    def close(self) -> None:
        # What a command wrote is searchable when it ends (``kubetrail ingest``, then a
        # query), not only at the index's next refresh; best effort, the data is stored.
        if self._unrefreshed:
            with contextlib.suppress(TransportError):
                self.client.indices.refresh(index=self.pattern, ignore_unavailable=True)
        self.client.close()

    # -- writes --------------------------------------------------------------

    #: Turns a document into what :meth:`write_prepared` sends; pure, so ``kubetrail
    #: ingest`` runs it in its worker processes (:class:`~kubetrail.store.base.PreparedWrites`).
    prepare = staticmethod(prepare_document)

    def write(self, docs: Sequence[EventDocument]) -> WriteResult:
        result = self.write_prepared([prepare_document(doc) for doc in docs])
        if result.stored or result.duplicates:
            joins = self.audit.join_written(docs)  # pending audit records of these objects
            result.joined_exact = sum(j.source == "audit-exact" for j in joins)
            result.joined_nearest = len(joins) - result.joined_exact
        return result

    def write_audit(self, records: Sequence[AuditRecord]) -> AuditResult:
        """:class:`~kubetrail.store.base.AuditJoin`, see :mod:`.audit`."""
        return self.audit.write(records)

    def join_pending(self, *, start: datetime, end: datetime) -> AuditResult:
        """:class:`~kubetrail.store.base.AuditJoin`: for rows written by
        :meth:`write_prepared`, which does not join (their documents are encoded)."""
        return self.audit.join_pending(start=start, end=end)

    def write_prepared(self, rows: Sequence[PreparedDocument | WriteError]) -> WriteResult:
        result = WriteResult()
        ready: list[PreparedDocument] = []
        for row in rows:
            if isinstance(row, WriteError):
                result.errors.append(row)
            else:
                ready.append(row)
        if not ready:
            return result
        self._unrefreshed = self.refresh is False
        ready = self._not_in_rolled_indices(ready, result)
        pending = [
            {"_op_type": "create", "_index": self.alias, "_id": row.id, "_source": row.source}
            for row in ready
        ]
        for attempt in range(self.connection_retries + 1):
            try:
                pending = self._bulk(pending, result)
                return result
            except (OSConnectionError, ConnectionTimeout) as exc:
                # Resending is safe: ids make already-stored documents duplicates.
                if attempt == self.connection_retries:
                    lost = f"{len(pending)} documents not stored"
                    raise StoreUnavailable(
                        f"{errors.describe_error(exc, self.name)} ({lost})"
                    ) from None
                time.sleep(self.retry_backoff * 2**attempt)
        return result

    def flush(self) -> None:
        """Nothing to do: every :meth:`write_prepared` has been answered by the node."""

    def _not_in_rolled_indices(
        self, rows: list[PreparedDocument], result: WriteResult
    ) -> list[PreparedDocument]:
        """``rows`` without the documents already stored in an index the write alias
        has rolled away from, counted as duplicates. ``create`` answers 409 only within
        one index: a batch replayed after a rollover (a spool replay, a relist, a retry)
        would otherwise land twice. Costs one alias lookup per batch, and one search
        bounded by the batch's ids and time range only when there are rolled indices."""
        try:
            holders = self.client.indices.get_alias(index=self.pattern, name=self.alias)
        except NotFoundError:
            return rows
        except (OSConnectionError, ConnectionTimeout):
            return rows  # the bulk request meets the outage and retries or reports it
        rolled = sorted(
            index
            for index, entry in holders.items()
            if ((entry.get("aliases") or {}).get(self.alias) or {}).get("is_write_index")
            is not True
        )
        if not rolled or len(rolled) == len(holders):
            return rows
        found: set[str] = set()
        for i in range(0, len(rows), _ID_CHUNK):
            chunk = rows[i : i + _ID_CHUNK]
            micros = [row.micros for row in chunk]
            body = {
                "query": {
                    "bool": {
                        "filter": [
                            {"terms": {"id": [row.id for row in chunk]}},
                            {
                                "range": {
                                    "timestampMicros": {"gte": min(micros), "lte": max(micros)}
                                }
                            },
                        ]
                    }
                },
                "_source": False,
                "size": len(chunk),
            }
            try:
                hits = self.client.search(index=",".join(rolled), body=body)["hits"]["hits"]
            except (OSConnectionError, ConnectionTimeout):
                return rows
            except TransportError as exc:
                raise StoreError(
                    f"OpenSearch at {self.name} failed to look up already stored events: "
                    f"{errors.reason(exc)}"
                ) from None
            found.update(hit["_id"] for hit in hits)
        if not found:
            return rows
        result.duplicates += sum(1 for row in rows if row.id in found)
        return [row for row in rows if row.id not in found]

    def _bulk(self, actions: list[dict[str, Any]], result: WriteResult) -> list[dict[str, Any]]:
        """Send ``actions``, counting outcomes into ``result``. When the connection
        fails mid-way, ``actions`` is cut down to what got no answer (in place)
        and the error is raised for the caller to retry.

        More than one chunk goes out as up to :attr:`concurrency` bulk requests at
        once: a node indexes one bulk request on one write thread, so one request at
        a time leaves its other cores idle (and the client idle while it works)."""
        size = self.chunk_docs
        parts = [actions[i : i + size] for i in range(0, len(actions), size)]
        if self.concurrency == 1 or len(parts) < 2:
            return self._bulk_stream(actions, result)
        results = [WriteResult() for _ in parts]
        failures: list[BaseException | None] = []
        with ThreadPoolExecutor(min(self.concurrency, len(parts))) as pool:
            for failure in pool.map(self._bulk_part, parts, results):
                failures.append(failure)
        for part_result in results:
            result.stored += part_result.stored
            result.duplicates += part_result.duplicates
            result.errors += part_result.errors
        for failure in failures:  # a refusal is final; a lost connection is retried
            if failure is not None and not isinstance(failure, _CONNECTION_LOST):
                raise failure
        lost = [f for f in failures if f is not None]
        if lost:
            # each failed part was cut down to what got no answer
            actions[:] = [a for part, f in zip(parts, failures, strict=True) if f for a in part]
            raise lost[0]
        return []

    def _bulk_part(
        self, actions: list[dict[str, Any]], result: WriteResult
    ) -> BaseException | None:
        """:meth:`_bulk_stream` in a worker thread: the failure is returned, not raised,
        so every part finishes and counts before the write decides what to resend."""
        try:
            self._bulk_stream(actions, result)
        except (StoreError, *_CONNECTION_LOST) as exc:
            return exc
        return None

    def _bulk_stream(
        self, actions: list[dict[str, Any]], result: WriteResult
    ) -> list[dict[str, Any]]:
        """:meth:`_bulk` as one stream of chunks, one request at a time."""
        done: set[str] = set()
        try:
            for ok, item in helpers.streaming_bulk(
                self.client,
                actions,
                chunk_size=self.chunk_docs,
                max_chunk_bytes=self.chunk_bytes,
                raise_on_error=False,
                raise_on_exception=True,
                max_retries=self.connection_retries,
                initial_backoff=self.retry_backoff,  # type: ignore[arg-type]  # typed int; sleeps a float
                refresh=self.refresh,
            ):
                info = item.get("create") or next(iter(item.values()))
                ident = str(info.get("_id"))
                done.add(ident)
                status = info.get("status", 0)
                if ok:
                    result.stored += 1
                elif status == 409:
                    result.duplicates += 1
                else:
                    err = info.get("error") or {}
                    reason = err.get("reason") if isinstance(err, dict) else str(err)
                    kind = err.get("type") if isinstance(err, dict) else "error"
                    result.errors.append(WriteError(id=ident, reason=f"{status} {kind}: {reason}"))
        except (OSConnectionError, ConnectionTimeout):
            remaining = [a for a in actions if a["_id"] not in done]
            actions[:] = remaining
            raise
        except TransportError as exc:
            raise StoreError(
                f"OpenSearch at {self.name} refused the bulk write: {errors.reason(exc)}"
            ) from None
        return []

    # -- reads ---------------------------------------------------------------

    def _search(self, body: dict[str, Any]) -> dict[str, Any]:
        try:
            return self.client.search(index=self.pattern, body=body, ignore_unavailable=True)
        except (OSConnectionError, ConnectionTimeout) as exc:
            raise StoreUnavailable(errors.describe_error(exc, self.name)) from None
        except RequestError as exc:
            raise InvalidQuery(f"OpenSearch rejected the query: {errors.reason(exc)}") from None
        except NotFoundError:
            return {"hits": {"hits": []}, "aggregations": {}}
        except TransportError as exc:
            raise StoreError(f"OpenSearch at {self.name} failed: {errors.reason(exc)}") from None

    def search(self, query: EventQuery) -> EventPage:
        body = queries.search_body(query)
        hits = self._search(body)["hits"]["hits"]
        more = len(hits) > query.limit
        hits = hits[: query.limit]
        items = [queries.public_document(h.get("_source") or {}) for h in hits]
        if query.fields:  # what public_document put back may not have been asked for
            items = [cast(EventDocument, project(doc, query.fields)) for doc in items]
        nxt = queries.cursor_of(hits[-1]) if more and hits else None
        return EventPage(items=items, next=nxt)

    def aggregate(self, query: AggregateQuery) -> AggregateResult:
        check_group_keys(query.group_by)
        if query.limit < 1:
            raise InvalidQuery("limit must be at least 1")
        if query.every is not None:
            return self._aggregate_sliced(query)
        if query.limit >= _TOP_GROUPS_MAX:
            # more groups than one terms request should return (each is a bucket, and
            # search.max_buckets is 65535 by default): page through every group
            groups, more = self._all_groups(query), False
        else:
            try:
                groups, more = self._top_groups(query)
            except InvalidQuery:
                # multi_terms needs OpenSearch 2.1+: page through every group instead
                groups, more = self._all_groups(query), False
        groups, truncated = _ordered(query, groups, more)
        return AggregateResult(buckets=self._buckets(query, groups), truncated=truncated)

    def _aggregate_sliced(self, query: AggregateQuery) -> AggregateResult:
        """``AggregateQuery.every`` in one request: a ``histogram`` of ``timestampMicros``
        whose buckets start at ``filter.start`` and are ``every`` wide (exactly the
        slices of :func:`~kubetrail.store.base.time_slices`), the top groups of each
        inside it as :meth:`_top_groups` asks them, so ``order`` and ``limit`` hold per
        slice. When that cannot be asked (more groups than one request should return,
        ``multi_terms`` missing before OpenSearch 2.1, ``search.max_buckets`` exceeded,
        a compatible server without ``histogram``): one request per slice."""
        slices = time_slices(query)  # refuses what cannot be sliced
        if query.limit >= _TOP_GROUPS_MAX:
            return aggregate_slice_by_slice(self.aggregate, query)
        assert query.every is not None and query.filter.start is not None
        origin = to_micros(query.filter.start)
        body = queries.sliced_body(query, size=query.limit + 1, origin=origin)
        try:
            aggs = self._search(body).get("aggregations") or {}
        except StoreUnavailable:
            raise
        except StoreError as exc:
            log.info("one request per time slice (%d): %s", len(slices), exc)
            return aggregate_slice_by_slice(self.aggregate, query)
        per_slice: list[tuple[int, list[_Group]]] = []  # (slice start µs, its groups)
        truncated = False
        for hb in (aggs.get("slices") or {}).get("buckets") or []:
            if not hb.get("doc_count"):
                continue
            groups, more = self._groups_of(query, hb)
            groups, cut = _ordered(query, groups, more)
            truncated = truncated or cut
            per_slice.append((round(hb["key"]), groups))
        per_slice.sort(key=lambda item: item[0])  # oldest first
        buckets = self._buckets(query, [g for _, groups in per_slice for g in groups])
        labels = [
            label
            for start, groups in per_slice
            for label in [format_rfc3339(from_micros(start))] * len(groups)
        ]
        return AggregateResult(
            buckets=[
                replace(b, key={**b.key, "time": label})
                for b, label in zip(buckets, labels, strict=True)
            ],
            truncated=truncated,
        )

    def _buckets(self, query: AggregateQuery, groups: list[_Group]) -> list[Bucket]:
        latest = self.documents([g[4] for g in groups if g[4]]) if query.latest else {}
        return [
            Bucket(
                key=key,
                count=count,
                first_seen=format_rfc3339(from_micros(first)),
                last_seen=format_rfc3339(from_micros(last)),
                latest=latest.get(newest) if query.latest else None,
                latest_id=newest or None,
            )
            for key, count, first, last, newest in groups
        ]

    def _top_groups(self, query: AggregateQuery) -> tuple[list[_Group], bool]:
        """The top ``limit + 1`` groups in one request; ``more``: others were cut."""
        body = queries.top_groups_body(query, size=query.limit + 1)
        return self._groups_of(query, self._search(body).get("aggregations") or {})

    def _groups_of(self, query: AggregateQuery, aggs: dict[str, Any]) -> tuple[list[_Group], bool]:
        """The groups of a :func:`~.queries.top_groups_body` answer (or of one slice of
        a :func:`~.queries.sliced_body` one); ``more``: others were cut."""
        others = [k for k in query.group_by if k != "signal"]
        groups: list[_Group] = []
        more = False

        def add(bucket: dict[str, Any], key: dict[str, str]) -> None:
            groups.append(_group(bucket, key, latest=query.latest or query.latest_id))

        def other_keys(bucket: dict[str, Any]) -> dict[str, str]:
            values = bucket["key"] if isinstance(bucket["key"], list) else [bucket["key"]]
            return {k: "" if v is None else str(v) for k, v in zip(others, values, strict=True)}

        if "signal" in query.group_by:
            outer = aggs.get("signals") or {"buckets": []}
            more = more or outer.get("sum_other_doc_count", 0) > 0
            for sb in outer["buckets"]:
                if not others:
                    add(sb, {"signal": str(sb["key"])})
                    continue
                inner = sb["groups"]
                more = more or inner.get("sum_other_doc_count", 0) > 0
                for b in inner["buckets"]:
                    add(b, {"signal": str(sb["key"]), **other_keys(b)})
        else:
            inner = aggs.get("groups") or {"buckets": []}
            more = inner.get("sum_other_doc_count", 0) > 0
            for b in inner["buckets"]:
                add(b, other_keys(b))
        # keys in the order asked for
        return [({k: g[0][k] for k in query.group_by}, *g[1:]) for g in groups], more

    def _all_groups(self, query: AggregateQuery) -> list[_Group]:
        keep_signal = (
            (lambda s: queries.signal_matches(s, query.filter.signal))
            if "signal" in query.group_by and query.filter.signal
            else None
        )
        # A missing value (null key) and an indexed "" (documents written before empty
        # fields were left out) are one group "", as in the embedded store.
        groups: dict[tuple[str, ...], _Group] = {}
        for bucket in self._composite_buckets(query):
            key = {
                k: "" if bucket["key"].get(k) is None else str(bucket["key"][k])
                for k in query.group_by
            }
            if keep_signal is not None and not keep_signal(key["signal"]):
                continue
            group = _group(bucket, key, latest=query.latest or query.latest_id)
            ident = tuple(key.values())
            groups[ident] = _merge(groups[ident], group) if ident in groups else group
        return list(groups.values())

    def _composite_buckets(self, query: AggregateQuery) -> Iterator[dict[str, Any]]:
        after = None
        while True:
            body = queries.composite_body(query, page_size=_COMPOSITE_PAGE, after=after)
            agg = (self._search(body).get("aggregations") or {}).get("groups")
            if not agg:
                return
            yield from agg["buckets"]
            after = agg.get("after_key")
            if not agg["buckets"] or after is None:
                return

    def documents(self, ids: Sequence[str]) -> dict[str, EventDocument]:
        out: dict[str, EventDocument] = {}
        unique = list(dict.fromkeys(ids))
        for i in range(0, len(unique), _ID_CHUNK):
            chunk = unique[i : i + _ID_CHUNK]
            body = {"query": {"terms": {"id": chunk}}, "size": len(chunk)}
            for hit in self._search(body)["hits"]["hits"]:
                doc = queries.public_document(hit["_source"])
                out[doc["id"]] = doc
        return out

    # -- retention and health ---------------------------------------------------

    def manage_indices(self, *, days: int, now: datetime) -> IndexChanges:
        """:class:`~kubetrail.store.base.IndexRetention`: without ISM, roll the write
        index over when due and delete whole expired indices (never the write index)."""
        try:
            return manage_indices(self.client, prefix=self.prefix, days=days, now=now)
        except (OSConnectionError, ConnectionTimeout) as exc:
            raise StoreUnavailable(errors.describe_error(exc, self.name)) from None
        except TransportError as exc:
            raise StoreError(
                f"OpenSearch at {self.name} failed to roll over or delete indices: "
                f"{errors.reason(exc)}"
            ) from None

    def delete_before(self, cutoff: datetime) -> int:
        try:
            resp = self.client.delete_by_query(
                index=self.pattern,
                body={"query": {"range": {"timestampMicros": {"lt": to_micros(cutoff)}}}},
                conflicts="proceed",
                refresh=True,
                ignore_unavailable=True,
            )
        except (OSConnectionError, ConnectionTimeout) as exc:
            raise StoreUnavailable(errors.describe_error(exc, self.name)) from None
        except TransportError as exc:
            raise StoreError(
                f"OpenSearch at {self.name} failed to delete: {errors.reason(exc)}"
            ) from None
        self.audit.delete_before(cutoff)  # the audit records of those events
        return int(resp.get("deleted", 0))

    def health(self) -> Health:
        try:
            cluster = self.client.cluster.health()
            stats = self._search(
                {
                    "size": 0,
                    "track_total_hits": True,
                    "aggs": {
                        "oldest": {"min": {"field": "timestampMicros"}},
                        "newest": {"max": {"field": "timestampMicros"}},
                    },
                }
            )
        except (StoreError, TransportError, OSConnectionError) as exc:
            return Health(
                ok=False, store=self.kind, detail={"url": self.name, "error": errors.reason(exc)}
            )
        aggs = stats.get("aggregations") or {}
        total = stats["hits"].get("total", {})

        def when(name: str) -> str | None:
            value = (aggs.get(name) or {}).get("value")
            return format_rfc3339(from_micros(int(value))) if value is not None else None

        status = cluster.get("status")
        return Health(
            ok=status in ("green", "yellow"),
            store=self.kind,
            detail={
                "url": self.name,
                "cluster": cluster.get("cluster_name"),
                "status": status,
                "alias": self.alias,
                "events": total.get("value", 0) if isinstance(total, dict) else total,
                "oldest": when("oldest"),
                "newest": when("newest"),
            },
        )


_CONNECTION_LOST = (OSConnectionError, ConnectionTimeout)

_Group = tuple[dict[str, str], int, int, int, str]  # key, count, first µs, last µs, newest id


def _ordered(query: AggregateQuery, groups: list[_Group], more: bool) -> tuple[list[_Group], bool]:
    """The first ``limit`` groups in the query's order (ties by key, as the embedded
    store), and whether others were cut."""
    keys = query.group_by
    if query.order == "count":
        groups.sort(key=lambda g: (-g[1], *(g[0][k] for k in keys)))
    else:
        groups.sort(key=lambda g: (-g[3], *(g[0][k] for k in keys)))
    return groups[: query.limit], more or len(groups) > query.limit


def _merge(a: _Group, b: _Group) -> _Group:
    """One group of two buckets with the same key: counts added, the newest event of both."""
    newest = max((a[3], a[4]), (b[3], b[4]))[1]
    return (a[0], a[1] + b[1], min(a[2], b[2]), max(a[3], b[3]), newest)


def _group(bucket: dict[str, Any], key: dict[str, str], *, latest: bool) -> _Group:
    newest = ""
    if latest:
        top = bucket["newest"]["hits"]["hits"]
        if top:
            newest = str(top[0]["fields"]["id"][0])
    return (
        key,
        bucket["doc_count"],
        int(bucket["first"]["value"]),
        int(bucket["last"]["value"]),
        newest,
    )
