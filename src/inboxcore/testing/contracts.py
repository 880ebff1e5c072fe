"""The contract suites: what every storage adapter and every raw-message store must do.

Subclass :class:`StorageContract` (or :class:`RawStoreContract`) in a test module, name the
subclass ``Test...`` and implement :meth:`StorageContract.make_storage`
(:meth:`RawStoreContract.make_store`) to return a fresh, empty store::

    from inboxcore.testing.contracts import RawStoreContract, StorageContract

    class TestMyStorage(StorageContract):
        def make_storage(self):
            return MyStorage(...)

    class TestMyRawStore(RawStoreContract):
        def make_store(self):
            return MyRawStore(...)

pytest then runs every contract test against it. The suites need pytest (``inboxcore[test]``).
"""

from __future__ import annotations

from inboxcore.testing._rawstore_contract import RawStoreContract
from inboxcore.testing._storage_contract import T0 as T0
from inboxcore.testing._storage_contract import StorageContract

__all__ = ["RawStoreContract", "StorageContract"]
