"""Storage: encrypted, content-addressed blobs (sealed documents; letters later). Files in a
directory today; the :class:`BlobStore` protocol is the seam for object storage.

May import: the shared base (``mailbox.errors``). Nothing of the database, the web or the
other rooms.
"""
