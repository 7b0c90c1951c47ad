/**
 * Reading the SQL journal's rows: each row's checksum (a hash chain, see
 * `journalSql.ts`) and its event. A row whose checksum holds was written by
 * this code from a valid event: its event is built straight from its columns
 * (a delta straight off its payload's text, `journalDeltaText.ts`), without
 * re-validation. Older rows (no checksum) and rows that fail are decoded by
 * the Schema, which says what is wrong.
 *
 * @internal
 */
import { Either } from "effect"
import * as Event from "../Event.js"
import * as Checksum from "./journalChecksum.js"
import * as Codec from "./journalCodec.js"
import * as DeltaText from "./journalDeltaText.js"
import * as Trusted from "./journalTrusted.js"

/** A row as `SELECT sequence, author, timestamp, tag, payload, checksum[, previous]` returns its values. */
export type RowValues = ReadonlyArray<unknown>

/**
 * The CRC of a row continued from `seed`: of the text
 * `sequence:timestamp:tag:authorLength:author` followed by the payload text
 * (every field, unambiguously delimited), without building that text.
 */
export const rowCrc = (sequence: number, author: string, timestamp: number, tag: string, payload: string, seed: number) => {
  const head = integerCrc(timestamp, integerCrc(sequence, seed))
  const named = Checksum.crc32Text(author, integerCrc(author.length, Checksum.crc32Byte(colon, Checksum.crc32Text(tag, head))))
  return Checksum.crc32Text(payload, named)
}

const colon = 58
const digits = new Uint8Array(24)

/** Continues `seed` over `${n}:` — for a non-negative safe integer, off its digits without making the text. */
const integerCrc = (n: number, seed: number): number => {
  if (!Number.isSafeInteger(n) || n < 0) return Checksum.crc32Text(`${n}:`, seed)
  let at = digits.length
  digits[--at] = colon
  // Eight digits at a time in 32-bit integer arithmetic (a 13-digit timestamp is two runs, not 13 float divisions).
  let rest = n
  while (rest >= 1e8) {
    const high = Math.floor(rest / 1e8)
    at = lowDigits(rest - high * 1e8, at, 8)
    rest = high
  }
  at = lowDigits(rest, at, 0)
  return Checksum.crc32Table(digits, seed, at, digits.length)
}

/** Writes the decimal digits of `value` (< 1e8) into `digits` before `at`, at least `width` of them; returns the new start. */
const lowDigits = (value: number, at: number, width: number): number => {
  let rest = value | 0
  let written = 0
  do {
    const next = (rest / 10) | 0
    digits[--at] = 48 + rest - next * 10
    rest = next
    written++
  } while (rest > 0 || written < width)
  return at
}

/** 8 lowercase hex digits as a number (no RegExp: this runs for every row read). */
export const parseChecksum = (value: unknown): number | undefined =>
  typeof value === "string" && value.length === 8 ? hexAt(value, 0) : undefined

/**
 * A row's columns as one text, for SQLite: its stored checksum, then the
 * text that checksum is computed over (see {@link rowCrc}). The driver
 * builds one string a row instead of four strings and two numbers, and the
 * CRC is one pass over it. NULL when the checksum is (an older row).
 */
export const rowText = "checksum || sequence || ':' || timestamp || ':' || tag || ':' || length(author) || ':' || author || payload"

/** The 8 lowercase hex digits of `text` at `at` as a number, or undefined. */
const hexAt = (text: string, at: number): number | undefined => {
  if (text.length < at + 8) return undefined
  let result = 0
  for (let i = at; i < at + 8; i++) {
    const code = text.charCodeAt(i)
    const digit = code >= 48 && code <= 57 ? code - 48 : code >= 97 && code <= 102 ? code - 87 : -1
    if (digit < 0) return undefined
    result = result * 16 + digit
  }
  return result
}

/** Decodes rows, one journal's (checksummed or older); the chain after the last row accepted is kept in `chain`. */
export class Reader {
  /** The checksum chain after the last row {@link check} accepted. */
  chain = 0
  /** Where {@link integerAt} stopped: after the colon. */
  private at = 0

  constructor(readonly checksummed: boolean) {}

  /**
   * Decodes a row — `[sequence, author, timestamp, tag, payload, checksum]`,
   * as `SELECT … .values` returns it — whose sequence must be `expected`;
   * `seed` is the checksum chain before it (ignored for older tables). The
   * event, or why the row is corrupted; the chain after it in `chain`.
   */
  check(row: RowValues, expected: number, seed: number): Event.Event | string {
    const sequence = Number(row[0])
    if (sequence !== expected) return `expected sequence ${expected}: rows are missing`
    const author = row[1]
    const timestamp = Number(row[2])
    const tag = row[3]
    const payloadText = row[4]
    if (this.checksummed && typeof author === "string" && typeof tag === "string" && typeof payloadText === "string") {
      const crc = rowCrc(sequence, author, timestamp, tag, payloadText, seed)
      if (parseChecksum(row[5]) === crc) {
        // The checksum holds: this code wrote the row from a valid event, no re-validation needed.
        const event = this.trusted(sequence, author, timestamp, tag, payloadText)
        if (event !== undefined) {
          this.chain = crc
          return event
        }
      }
    }
    return this.checkSlowly(row, sequence, seed)
  }

  /**
   * Decodes a checksummed row read as one text ({@link rowText}), whose
   * sequence must be `expected`, the chain continued from `seed`: the event
   * (the chain after it in `chain`), or `undefined` when this path cannot
   * vouch for the row. That is a checksum that does not hold over the text
   * (a changed row; an older row; an author with characters SQLite counts
   * differently from JavaScript, outside the BMP), a field not as this code
   * writes it, or a payload the trusted path gives up on: the caller then
   * reads the row's columns and {@link check}s them, which says why.
   */
  checkText(text: unknown, expected: number, seed: number): Event.Event | undefined {
    if (typeof text !== "string") return undefined
    const stored = hexAt(text, 0)
    if (stored === undefined) return undefined
    const crc = Checksum.crc32Text(text, seed, 8)
    if (crc !== stored) return undefined
    const sequence = this.integerAt(text, 8)
    if (sequence !== expected) return undefined
    const timestamp = this.integerAt(text, this.at)
    const tagEnd = text.indexOf(":", this.at)
    if (Number.isNaN(timestamp) || tagEnd < 0) return undefined
    const tag = text.slice(this.at, tagEnd)
    const authorLength = this.integerAt(text, tagEnd + 1)
    const authorEnd = this.at + authorLength
    if (Number.isNaN(authorLength) || authorEnd > text.length) return undefined
    const event = this.trusted(sequence, text.slice(this.at, authorEnd), timestamp, tag, text.slice(authorEnd))
    if (event !== undefined) this.chain = crc
    return event
  }

  /** The plain non-negative integer of the digits at `at`, up to a colon (`at` then after it); NaN otherwise. */
  private integerAt(text: string, at: number): number {
    let value = 0
    let i = at
    for (; i < text.length && i - at <= 15; i++) {
      const code = text.charCodeAt(i)
      if (code === colon) break
      if (code < 48 || code > 57) return Number.NaN
      value = value * 10 + code - 48
    }
    if (i === at || i - at > 15 || text.charCodeAt(i) !== colon) return Number.NaN
    this.at = i + 1
    return value
  }

  /**
   * The event of a row whose checksum holds, built straight from its columns (a delta straight off its text);
   * undefined when that path gives up.
   */
  private trusted(sequence: number, author: string, timestamp: number, tag: string, payloadText: string): Event.Event | undefined {
    const delta = DeltaText.fromJson(tag, payloadText)
    if (delta !== undefined) return Trusted.eventOf(sequence, author, timestamp, delta)
    let value: unknown
    try {
      value = JSON.parse(payloadText)
    } catch {
      return undefined
    }
    const event = Trusted.makeEvent(sequence, author, timestamp, value)
    return event === undefined || event.payload._tag !== tag ? undefined : event
  }

  /** {@link check} for the rest: older tables, and rows that fail (says why) or that the trusted path gives up on. */
  private checkSlowly(row: RowValues, sequence: number, seed: number): Event.Event | string {
    const [, author, timestamp, tag, payloadText, checksum] = row
    const decodeWith = (decoder: (value: unknown) => Either.Either<Event.Event, string>) =>
      Either.flatMap(
        typeof payloadText === "string" ? Codec.parseJson(payloadText) : Either.left("the payload is not text"),
        (payload) =>
          Either.flatMap(
            decoder({ sequence, author, timestamp: Number(timestamp), payload }),
            (event) =>
              event.payload._tag === tag
                ? Either.right(event)
                : Either.left(`tag ${String(tag)} does not match the payload ${event.payload._tag}`)
          )
      )
    const accepted = (decoded: Either.Either<Event.Event, string>, chain: number) => {
      if (Either.isLeft(decoded)) return decoded.left
      this.chain = chain
      return decoded.right
    }
    if (!this.checksummed) return accepted(decodeWith(Codec.decode), seed)
    const stored = parseChecksum(checksum)
    const crc = typeof author === "string" && typeof tag === "string" && typeof payloadText === "string"
      ? rowCrc(sequence, author, Number(timestamp), tag, payloadText, seed)
      : undefined
    if (stored === undefined || crc !== stored) {
      // A row that does not decode says why; one that does only failed its checksum.
      const decoded = decodeWith(Codec.decode)
      if (Either.isLeft(decoded)) return decoded.left
      return stored === undefined ? "the row has no checksum" : "checksum mismatch: the row (or one before it) was changed after it was written"
    }
    return accepted(decodeWith(Codec.decodeTrusted), crc)
  }
}
