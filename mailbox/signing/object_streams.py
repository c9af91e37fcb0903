"""A PDF's object streams, inflated with a bound.

Since PDF 1.5 most objects of a file sit compressed in object streams, and pyHanko inflates a
whole object stream when it reads any object inside it. A hostile file can carry a few dozen
kilobytes of deflate that inflate to gigabytes (a decompression bomb) and name an object
inside from its catalog: reading the page tree would then take the sealing worker's memory.
``inflate_object_streams`` inflates every object stream itself first, stopping at
``MAX_DECODED`` bytes in all, so such a file is refused before the parser touches it.
"""

from __future__ import annotations

import zlib

from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.misc import PdfReadError
from pyhanko.pdf_utils.reader import PdfFileReader

__all__ = ["MAX_DECODED", "InflatesTooFar", "inflate_object_streams"]

# What a file's object streams may inflate to (the objects they hold are small: a 1,000-page
# document's are a few megabytes).
MAX_DECODED = 64 * 1024 * 1024


class InflatesTooFar(PdfReadError):
    """The file's compressed object streams inflate to more than ``MAX_DECODED`` bytes."""


def inflate_object_streams(reader: PdfFileReader) -> tuple[bytes, ...]:
    """The decoded object streams of every revision of ``reader``'s file, at most
    ``MAX_DECODED`` bytes in all: a stream that inflates further (a decompression bomb, which
    the parser would inflate whole when it reads an object inside) raises ``InflatesTooFar``
    before more than that is in memory."""
    decoded: list[bytes] = []
    budget = MAX_DECODED
    seen: set[int] = set()
    for revision in range(reader.xrefs.total_revisions):
        for ref in reader.xrefs.object_streams_used_in(revision):
            if ref.idnum in seen:
                continue
            seen.add(ref.idnum)
            stream = reader.get_object(ref)
            if not isinstance(stream, generic.StreamObject):
                continue
            data = _inflate(stream, budget)
            budget -= len(data)
            decoded.append(data)
    return tuple(decoded)


def _inflate(stream: generic.StreamObject, budget: int) -> bytes:
    too_far = InflatesTooFar(
        f"its compressed object streams inflate to more than {MAX_DECODED} bytes"
    )
    filters = dict.get(stream, "/Filter")
    if isinstance(filters, generic.ArrayObject) and len(filters) == 1:
        filters = filters[0]
    if filters == "/FlateDecode":
        # What producers write: inflated here with a bound first. Other filter chains are
        # left to pyHanko (a gap: they are rare in object streams).
        inflater = zlib.decompressobj()
        data = inflater.decompress(stream.encoded_data, budget + 1)
        if len(data) > budget or inflater.unconsumed_tail:
            raise too_far
        if "/DecodeParms" not in stream:
            return data
    data = stream.data  # with a predictor, no longer than the inflated bytes checked above
    if len(data) > budget:
        raise too_far
    return data
