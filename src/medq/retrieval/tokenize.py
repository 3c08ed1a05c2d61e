"""Word tokenisation for BM25, vectorised over whole batches of text with numpy.

The rule (version 1): lower-case; a word is a run of ASCII letters, digits and ``_``, or of
non-ASCII characters other than the Latin-1 symbols (U+00A0-U+00BF except µ, ×, ÷) and
general punctuation (U+2000-U+206F: dashes, curly quotes, ellipsis); words of one
character are dropped, and so are the stop words (Lucene's 33 English ones by default).
On ASCII text this is exactly bm25s's (and scikit-learn's) ``(?u)\\b\\w\\w+\\b``.

Why vectorised: a Python loop costs a few hundred nanoseconds per word, which alone is
more than the whole budget of a 15-million-word build. Here a batch of documents is one
byte array; word boundaries come from a lookup table, and each word becomes a 64-bit key
by reading its bytes eight at a time through a strided view (words of up to eight bytes
are keyed exactly; longer ones are hashed). Keys are mapped to term IDs by sorting, never
by a Python dict.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

TOKENIZER_VERSION = 1

# Lucene's EnglishAnalyzer stop set (also bm25s's "en").
ENGLISH_STOPWORDS = (
    "a", "an", "and", "are", "as", "at", "be", "but", "by", "for", "if", "in", "into", "is",
    "it", "no", "not", "of", "on", "or", "such", "that", "the", "their", "then", "there",
    "these", "they", "this", "to", "was", "will", "with",
)

_WORD_BYTE = np.zeros(256, dtype=bool)
_WORD_BYTE[list(b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_")] = True
_WORD_BYTE[0x80:] = True
# LOW[n]: the low n bytes of a little-endian uint64.
_LOW = np.array([(1 << (8 * n)) - 1 for n in range(8)] + [2**64 - 1], dtype=np.uint64)
_MUL = np.uint64(0x9E3779B97F4A7C15)
_MUL2 = np.uint64(0xC2B2AE3D27D4EB4F)


@dataclass(frozen=True)
class Tokens:
    """The words of a batch of texts: one 64-bit key per word, with the text it is in.

    ``starts`` / ``ends`` are byte offsets into ``data`` (the batch's UTF-8 bytes), kept so
    that a key can be turned back into its word.
    """

    keys: np.ndarray  # uint64
    doc: np.ndarray  # int64, index of the text within the batch
    starts: np.ndarray
    ends: np.ndarray
    data: bytes

    def word(self, i: int) -> str:
        """The text of word `i`."""
        return self.data[self.starts[i]:self.ends[i]].decode("utf-8", "replace")


def _word_mask(b: np.ndarray) -> np.ndarray:
    word = _WORD_BYTE[b]
    # Separators outside ASCII: general punctuation E2 80 xx / E2 81 80-AF, Latin-1 symbols
    # C2 A0-BF (except µ, C2 B5), × (C3 97) and ÷ (C3 B7).
    e2 = np.flatnonzero(b[:-2] == 0xE2)
    if e2.size:
        nxt, third = b[e2 + 1], b[e2 + 2]
        sel = e2[(nxt == 0x80) | ((nxt == 0x81) & (third < 0xB0))]
        word[sel] = word[sel + 1] = word[sel + 2] = False
    c2 = np.flatnonzero(b[:-1] == 0xC2)
    if c2.size:
        sel = c2[(b[c2 + 1] >= 0xA0) & (b[c2 + 1] != 0xB5)]
        word[sel] = word[sel + 1] = False
    c3 = np.flatnonzero(b[:-1] == 0xC3)
    if c3.size:
        sel = c3[(b[c3 + 1] == 0x97) | (b[c3 + 1] == 0xB7)]
        word[sel] = word[sel + 1] = False
    return word


def _keys(padded: np.ndarray, starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    # A uint64 view starting at every byte: one gather reads 8 bytes of each word.
    view = np.ndarray((len(padded) - 7,), dtype="<u8", buffer=padded, strides=(1,))
    keys = view[starts] & _LOW[np.minimum(lengths, 8)]
    keys *= _MUL  # odd multiplier: a bijection, so words of <= 8 bytes stay exact
    long = np.flatnonzero(lengths > 8)
    offset = 8
    while long.size:
        chunk = view[starts[long] + offset] & _LOW[np.minimum(lengths[long] - offset, 8)]
        mixed = (keys[long] ^ chunk) * _MUL2
        keys[long] = mixed ^ (mixed >> np.uint64(31))
        offset += 8
        long = long[lengths[long] > offset]
    return keys


def _single_char(b: np.ndarray, starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """Words that are one multi-byte character (dropped, like one-letter ASCII words)."""
    out = lengths < 2
    maybe = np.flatnonzero((lengths >= 2) & (lengths <= 4))
    if maybe.size:
        lead = b[starts[maybe]]
        width = np.where(lead >= 0xF0, 4, np.where(lead >= 0xE0, 3, np.where(lead >= 0xC0, 2, 0)))
        out[maybe[width == lengths[maybe]]] = True
    return out


@dataclass(frozen=True)
class Tokenizer:
    """Splits text into words; see the module docstring for the rule.

    Example:
        >>> Tokenizer().words("The Glianorex regulates emotion.")
        ['glianorex', 'regulates', 'emotion']
    """

    stopwords: tuple[str, ...] = ENGLISH_STOPWORDS
    lowercase: bool = True

    def tokens(self, texts: Sequence[str]) -> Tokens:
        """Every word of every text (stop words included), as keys."""
        encoded = [(t.lower() if self.lowercase else t).encode("utf-8") for t in texts]
        data = b"\n".join(encoded)
        padded = np.zeros(len(data) + 8, dtype=np.uint8)
        padded[: len(data)] = np.frombuffer(data, dtype=np.uint8)
        b = padded[: len(data)]
        edges = np.diff(_word_mask(b).view(np.int8), prepend=np.int8(0), append=np.int8(0))
        starts = np.flatnonzero(edges == 1)
        ends = np.flatnonzero(edges == -1)
        lengths = ends - starts
        keep = ~_single_char(b, starts, lengths)
        starts, ends, lengths = starts[keep], ends[keep], lengths[keep]
        text_starts = np.zeros(len(encoded), dtype=np.int64)
        if len(encoded) > 1:
            np.cumsum(np.fromiter(map(len, encoded[:-1]), np.int64, len(encoded) - 1) + 1,
                      out=text_starts[1:])
        doc = np.searchsorted(text_starts, starts, side="right") - 1
        return Tokens(_keys(padded, starts, lengths), doc, starts, ends, data)

    def words(self, text: str) -> list[str]:
        """The words of `text` that BM25 indexes (stop words removed)."""
        toks = self.tokens([text])
        stop = set(self.stopwords)
        words = (toks.word(i) for i in range(len(toks.keys)))
        return [w for w in words if w not in stop]

    def stop_keys(self) -> np.ndarray:
        """The keys of the stop words, in the order given."""
        return self.tokens(list(self.stopwords)).keys

    def config(self) -> dict[str, object]:
        """The settings, as stored beside an index."""
        return {"version": TOKENIZER_VERSION, "stopwords": list(self.stopwords),
                "lowercase": self.lowercase}


class Vocabulary:
    """Word key -> term ID, as a sorted key array; stop words take IDs 0..n_stop-1."""

    def __init__(self, keys: np.ndarray, ids: np.ndarray, words: list[str], n_stop: int):
        self.keys = keys  # sorted uint64
        self.ids = ids  # int32, parallel to keys
        self.words = words  # by ID
        self.n_stop = n_stop

    @classmethod
    def new(cls, tokenizer: Tokenizer) -> Vocabulary:
        # One-letter stop words ("a") never reach the index anyway.
        stop = [w for w in dict.fromkeys(tokenizer.stopwords)
                if len(tokenizer.tokens([w]).keys) == 1]
        keys = tokenizer.tokens(stop).keys
        order = np.argsort(keys)
        return cls(keys[order], order.astype(np.int32), stop, len(stop))

    def __len__(self) -> int:
        return len(self.words)

    def lookup(self, keys: np.ndarray) -> np.ndarray:
        """Term IDs of `keys` (-1 where unknown)."""
        pos = np.searchsorted(self.keys, keys)
        pos_c = np.minimum(pos, max(len(self.keys) - 1, 0))
        found = (pos < len(self.keys)) & (self.keys[pos_c] == keys)
        return np.where(found, self.ids[pos_c], -1)

    def add(self, sorted_keys: np.ndarray, tokens: Tokens, first: np.ndarray) -> np.ndarray:
        """IDs of `sorted_keys` (distinct, ascending), adding the new ones.

        ``first[i]`` is the position in `tokens` of one occurrence of key i, used to record
        the new words' text.
        """
        return self._add(sorted_keys, lambda i: tokens.word(int(first[i])))

    def extend(self, sorted_keys: np.ndarray, words: Sequence[str]) -> np.ndarray:
        """IDs of `sorted_keys` (distinct, ascending; ``words[i]`` is key i's word), adding
        the unknown ones in that order, exactly as `add` adds a batch's new words."""
        return self._add(sorted_keys, words.__getitem__)

    def _add(self, sorted_keys: np.ndarray, word: Callable[[int], str]) -> np.ndarray:
        pos = np.searchsorted(self.keys, sorted_keys)
        pos_c = np.minimum(pos, max(len(self.keys) - 1, 0))
        found = (pos < len(self.keys)) & (self.keys[pos_c] == sorted_keys)
        out = np.where(found, self.ids[pos_c], -1).astype(np.int32)
        new = np.flatnonzero(~found)
        if new.size:
            new_ids = np.arange(len(self.words), len(self.words) + new.size, dtype=np.int32)
            out[new] = new_ids
            self.words.extend(word(i) for i in new.tolist())
            self.keys = np.insert(self.keys, pos[new], sorted_keys[new])
            self.ids = np.insert(self.ids, pos[new], new_ids)
        return out
