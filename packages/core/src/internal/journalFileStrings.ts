/**
 * JSON strings read off a journal line's bytes (the file journal's envelope
 * and delta readers): a string in its plain form — no backslash escape, no
 * control character — is its UTF-8 bytes between the quotes, so it can be
 * built without `JSON.parse`.
 *
 * Most such strings are short ASCII runs (names, item ids, a delta's few
 * words): those are built from their bytes with `String.fromCharCode`,
 * cheaper than a `TextDecoder` call (a native call and a view per string).
 * Anything else goes through a fatal UTF-8 decoder that keeps a leading
 * U+FEFF (a name may begin with one; it is no byte order mark there).
 *
 * @internal
 */

// For a string inside a line: a leading U+FEFF is part of it, not a mark to drop.
const utf8Exact = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true })

/** ASCII runs up to this long are built with `String.fromCharCode`; longer ones are decoded. */
const shortAscii = 16

/** The UTF-8 text of a string's bytes inside a line, a leading U+FEFF kept; undefined when it is not UTF-8. */
export const utf8OrUndefined = (bytes: Uint8Array, begin: number, end: number): string | undefined => {
  try {
    return utf8Exact.decode(bytes.subarray(begin, end))
  } catch {
    return undefined
  }
}

/** Up to 8 ASCII bytes `bytes[at, at + length)` as a string (`length` ≥ 1). */
const fromBytes = (bytes: Uint8Array, at: number, length: number): string => {
  switch (length) {
    case 1:
      return String.fromCharCode(bytes[at]!)
    case 2:
      return String.fromCharCode(bytes[at]!, bytes[at + 1]!)
    case 3:
      return String.fromCharCode(bytes[at]!, bytes[at + 1]!, bytes[at + 2]!)
    case 4:
      return String.fromCharCode(bytes[at]!, bytes[at + 1]!, bytes[at + 2]!, bytes[at + 3]!)
    case 5:
      return String.fromCharCode(bytes[at]!, bytes[at + 1]!, bytes[at + 2]!, bytes[at + 3]!, bytes[at + 4]!)
    case 6:
      return String.fromCharCode(bytes[at]!, bytes[at + 1]!, bytes[at + 2]!, bytes[at + 3]!, bytes[at + 4]!, bytes[at + 5]!)
    case 7:
      return String.fromCharCode(
        bytes[at]!, bytes[at + 1]!, bytes[at + 2]!, bytes[at + 3]!, bytes[at + 4]!, bytes[at + 5]!, bytes[at + 6]!
      )
    default:
      return String.fromCharCode(
        bytes[at]!, bytes[at + 1]!, bytes[at + 2]!, bytes[at + 3]!, bytes[at + 4]!, bytes[at + 5]!, bytes[at + 6]!, bytes[at + 7]!
      )
  }
}

/**
 * Reads plain JSON strings off a line: {@link end} finds where one ends,
 * {@link text} builds it. One per reader (it keeps what the last
 * {@link end} saw).
 */
export class PlainStrings {
  /** Did the string the last {@link end} found hold ASCII bytes only? */
  private ascii = true

  /**
   * Where the string whose bytes start at `at` (after its opening quote)
   * closes — the index of its closing quote — when it is plain; -1 when it
   * holds an escape or a control character, or is not closed before `end`.
   */
  end(bytes: Uint8Array, at: number, end: number): number {
    let high = 0
    for (let i = at; i < end; i++) {
      const byte = bytes[i]!
      if (byte === 34) {
        this.ascii = high < 128
        return i
      }
      if (byte === 92 || byte < 32) return -1
      high |= byte
    }
    return -1
  }

  /** The string of `bytes[begin, end)`, the range the last {@link end} found; undefined when it is not UTF-8. */
  text(bytes: Uint8Array, begin: number, end: number): string | undefined {
    const length = end - begin
    if (length === 0) return ""
    if (!this.ascii || length > shortAscii) return utf8OrUndefined(bytes, begin, end)
    return length <= 8 ? fromBytes(bytes, begin, length) : fromBytes(bytes, begin, 8) + fromBytes(bytes, begin + 8, length - 8)
  }
}

/**
 * The last few strings read, by their bytes: a run of lines by one author or
 * about one item builds its name once.
 */
export class RecentStrings {
  private readonly entries: Array<{ readonly bytes: Uint8Array; readonly text: string }> = []

  constructor(private readonly size: number) {}

  /** The string remembered for `bytes[begin, end)`, if any. */
  find(bytes: Uint8Array, begin: number, end: number): string | undefined {
    const length = end - begin
    outer: for (let k = this.entries.length - 1; k >= 0; k--) {
      const entry = this.entries[k]!
      const known = entry.bytes
      if (known.length !== length) continue
      for (let i = 0; i < length; i++) if (bytes[begin + i] !== known[i]) continue outer
      return entry.text
    }
    return undefined
  }

  /** Remembers `text` as the string of `bytes[begin, end)`, forgetting the oldest past `size`. */
  remember(bytes: Uint8Array, begin: number, end: number, text: string): void {
    if (this.entries.length >= this.size) this.entries.shift()
    this.entries.push({ bytes: bytes.slice(begin, end), text })
  }
}

/**
 * Reads JSON integers off a line's bytes in their plain form: non-negative,
 * no leading zero, at most 15 digits (exact as a double, as `JSON.parse`
 * reads them). Where the last one read ended is in `end` (no object per read).
 */
export class PlainIntegers {
  end = 0

  /** The integer at `bytes[at]`, or undefined when there is none in its plain form before `limit`. */
  read(bytes: Uint8Array, at: number, limit: number): number | undefined {
    let value = 0
    let i = at
    for (; i < limit && i - at < 16; i++) {
      const byte = bytes[i]!
      if (byte < 48 || byte > 57) break
      value = value * 10 + byte - 48
    }
    const digits = i - at
    if (digits === 0 || digits > 15 || (digits > 1 && bytes[at] === 48)) return undefined
    this.end = i
    return value
  }
}
