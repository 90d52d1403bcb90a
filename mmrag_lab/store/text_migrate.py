"""Give an existing collection a text field (or other text columns), keeping every vector.

Milvus Lite 3.2.2 cannot add a field or a function to a collection, so the collection is copied, as the
format upgrade in :mod:`.migrate` does: every row, vector included, into ``<name>__mmrag_migrating`` made
with the text field and the BM25 function (its ``text`` made from each row's ``meta``), the copy checked
and marked whole, the old collection dropped, the copy renamed. An interrupted run is finished or started
again by the next one. A backend without BM25 (the Milvus 2.3 server) is refused before anything is done.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from mmrag_lab.errors import StoreFailedError
from mmrag_lab.store.migrate import BATCH, COPIED, SUFFIX
from mmrag_lab.store.schema import CORE_FIELDS
from mmrag_lab.store.vector_store import Store


@dataclass(frozen=True)
class TextMigrationResult:
    """What :func:`add_text_fields` did."""

    collection: str
    rows: int
    text_fields: tuple[str, ...]
    already_current: bool = False

    def summary(self) -> str:
        columns = ",".join(self.text_fields)
        if self.already_current:
            return f"Collection {self.collection!r} already has the text fields {columns}; nothing to do."
        return (
            f"Collection {self.collection!r}: {self.rows} row(s) copied with the text field made from "
            f"{columns} and searchable by BM25 (--keywords); vectors kept, nothing re-encoded."
        )


def add_text_fields(store: Store, columns: tuple[str, ...]) -> TextMigrationResult:
    """Make ``store``'s collection carry the analysed text of ``columns`` (see :mod:`.text_fields`).

    Raises:
        TextSearchUnsupportedError: The backend has no BM25 (nothing was changed).
        CollectionNotFoundError, ForeignCollectionError, SchemaOutdatedError: As :meth:`Store.open_collection`.
        StoreFailedError: The copy came out short (the old collection is kept).
    """
    store.require_text_search("--text-fields")
    temp = Store(store.client, store.uri, store.collection + SUFFIX, store.config)
    if temp.exists() and not store.exists():
        return _finish(store, temp, columns)  # stopped between the drop and the rename
    record = store.open_collection("search")
    if record.text_fields == columns:
        return TextMigrationResult(store.collection, store.count(), columns, already_current=True)
    if temp.exists():
        temp.drop()  # an earlier attempt stopped while copying; the old collection is still whole
    temp.manager.create(replace(record, text_fields=columns))
    expected, written, batch = store.count(), 0, []
    for row in store.iterate(("vector", *CORE_FIELDS), batch_size=BATCH):
        batch.append(row)
        if len(batch) >= BATCH:
            written += temp.insert(batch)
            batch = []
    written += temp.insert(batch) if batch else 0
    temp.flush()
    if temp.count() != expected:
        raise StoreFailedError(
            f"Adding text fields to {store.collection!r} copied {temp.count()} of {expected} rows; the old "
            "collection is untouched. Run mmrag migrate --text-fields again."
        )
    temp.handle.call("alter_collection_properties", temp.collection, {COPIED: str(written)})
    store.drop()
    return _finish(store, temp, columns)


def _finish(store: Store, temp: Store, columns: tuple[str, ...]) -> TextMigrationResult:
    store.handle.call("rename_collection", temp.collection, store.collection)
    store.refresh()
    store.load()
    return TextMigrationResult(store.collection, store.count(), columns)
