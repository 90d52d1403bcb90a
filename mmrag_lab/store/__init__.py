"""Store: the only code that talks to Milvus (Lite, a server or Zilliz Cloud).

:class:`Store` (in :mod:`.collection`) is one collection of image rows. :mod:`.backend` turns a URI into a
client, :mod:`.schema` defines the fields, the index and the collection's record of its encoder, :mod:`.rows`
batches and shapes rows, and :mod:`.filters` builds escaped filter expressions for each backend's dialect.
"""

from mmrag_lab.store.collection import Store
from mmrag_lab.store.schema import CORE_FIELDS, CollectionRecord

__all__ = ["CORE_FIELDS", "CollectionRecord", "Store"]
