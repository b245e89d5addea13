"""Offline first (issue 14): what a learner's device queues while the network is weak or absent,
and how it reaches the store exactly once, in order.

- ``tickets``: the signed ticket each page gives the ops queued on it (whose session, which AU session);
- ``ops``: the wire format of a queued op and its checks;
- ``apply``: applying one op through the player's own domain functions, with the ledger
  (``player.storage.SyncedOp``) that makes a replay a no-op;
- ``http``: ``POST /player/sync`` (and ``GET`` for a fresh form token).

The browser side is ``player/web/`` (IndexedDB queue with ``idb``, a Workbox service worker),
bundled at build time into ``player/static/player/``.
"""
