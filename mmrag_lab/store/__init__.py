"""Store: the only code that talks to Milvus (Lite, a server or Zilliz Cloud).

:class:`Store` (in :mod:`.vector_store`) is one collection of image rows, composed of three parts over one
:class:`~.handle.CollectionHandle` (the client, the backend, the collection's name, its per-process caches
and the retry layer's call): :mod:`.manager` makes, checks, records and drops the collection, :mod:`.reads`
reads its rows and :mod:`.writes` writes them; each can be built and tested alone. :mod:`.backends` holds
one class per kind of deployment (Milvus Lite, a Milvus server) behind one interface, picked from the URI;
:mod:`.clients` keeps one client per URI in a process; :mod:`.retry` is the one layer that recovers and
retries a call; :mod:`.readiness` holds the rules of the one collection check (``Store.open_collection``).
:mod:`.schema` defines the fields (one row per file) and the index, :mod:`.record` the collection's record
(encoder, ingested folders, metadata types), :mod:`.rows` batches and shapes rows, :mod:`.filters` builds
escaped, typed filter expressions for each backend's dialect (:mod:`.metatypes` types metadata), and
:mod:`.migrate` upgrades collections of the older content-hash keyed schema.
"""

from mmrag_lab.store.schema import CORE_FIELDS, CollectionRecord
from mmrag_lab.store.vector_store import Store

__all__ = ["CORE_FIELDS", "CollectionRecord", "Store"]
