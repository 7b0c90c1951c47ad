/**
 * The line format of the file journal (`journalFile.ts`): splitting byte
 * chunks into lines, the header, the checksum field, and what can be read
 * off a checksummed line without parsing it (its sequence, its kind).
 *
 * @internal
 */
import { Either } from "effect"
import type * as Event from "../Event.js"
import * as Checksum from "./journalChecksum.js"
import * as Codec from "./journalCodec.js"
import { DeltaReader } from "./journalFileDelta.js"
import { PlainIntegers, PlainStrings, RecentStrings } from "./journalFileStrings.js"
import * as Trusted from "./journalTrusted.js"

export const NEWLINE = 10

const utf8 = new TextDecoder("utf-8", { fatal: true })
const utf8Encoder = new TextEncoder()

/**
 * Calls for each line: `bytes[begin, end)` is the line without its `\n`,
 * `start` its offset in the file; returns false to stop.
 */
export type OnLine = (bytes: Uint8Array, begin: number, end: number, start: number) => boolean

/**
 * Splits byte chunks into lines, keeping the file offset of each line. A
 * line is handed over as a range of the chunk (no copy, no view built per
 * line); only a line that spans chunks is copied into one array. A chunk's
 * bytes are not kept once `push` returns (the reader reuses its buffer): the
 * start of a line cut by the chunk's end is copied.
 */
export class LineSplitter {
  private carry: Array<Uint8Array> = []
  private carryLength = 0
  /** File offset of the first byte not yet returned in a complete line. */
  offset: number

  constructor(offset: number) {
    this.offset = offset
  }

  /** Calls `onLine` for each complete line of the chunk until it returns false. */
  push(data: Uint8Array, onLine: OnLine): boolean {
    // Searched in the chunk itself (the reader's chunks are Node `Buffer`s: a `Buffer`'s `indexOf` is a native byte
    // search, a `Uint8Array`'s a generic element loop), handed over as a plain view (a `Buffer` view would make
    // every `subarray` of it build another `Buffer`).
    const chunk = new Uint8Array(data.buffer, data.byteOffset, data.byteLength)
    let position = 0
    while (position < chunk.length) {
      const newline = data.indexOf(NEWLINE, position)
      if (newline === -1) {
        this.carry.push(chunk.slice(position))
        this.carryLength += chunk.length - position
        return true
      }
      const start = this.offset
      let keep: boolean
      if (this.carryLength > 0) {
        this.carry.push(chunk.subarray(position, newline))
        const bytes = concat(this.carry, this.carryLength + newline - position)
        this.carry = []
        this.carryLength = 0
        this.offset += bytes.length + 1
        keep = onLine(bytes, 0, bytes.length, start)
      } else {
        this.offset += newline - position + 1
        keep = onLine(chunk, position, newline, start)
      }
      position = newline + 1
      if (!keep) return false
    }
    return true
  }

  /** Bytes after the last `\n`: an unterminated line. */
  get rest(): number {
    return this.carryLength
  }
}

export const concat = (parts: ReadonlyArray<Uint8Array>, length: number): Uint8Array => {
  const result = new Uint8Array(length)
  let offset = 0
  for (const part of parts) {
    result.set(part, offset)
    offset += part.length
  }
  return result
}

/** The UTF-8 text of `bytes[begin, end)`, or why it is not UTF-8. */
export const text = (bytes: Uint8Array, begin = 0, end = bytes.length): Either.Either<string, string> => {
  try {
    return Either.right(utf8.decode(begin === 0 && end === bytes.length ? bytes : bytes.subarray(begin, end)))
  } catch {
    return Either.left("not valid UTF-8")
  }
}

/** The UTF-8 text of `bytes[begin, end)`, or undefined when it is not UTF-8. */
export const textOrUndefined = (bytes: Uint8Array, begin: number, end: number): string | undefined => {
  try {
    return utf8.decode(bytes.subarray(begin, end))
  } catch {
    return undefined
  }
}

export const ascii = (text: string) => utf8Encoder.encode(text)
export const headerPrefix = ascii("{\"chorus.journal\":")
export const crcKey = ascii(",\"crc\":\"")
/** `,"crc":"` + 8 hex digits + `"}`. */
export const suffixLength = crcKey.length + 8 + 2
export const sequencePrefix = ascii("{\"sequence\":")

export const startsWith = (bytes: Uint8Array, prefix: Uint8Array, at = 0, end = bytes.length) => {
  if (end < at + prefix.length) return false
  for (let i = 0; i < prefix.length; i++) if (bytes[at + i] !== prefix[i]) return false
  return true
}

/** Does the line `bytes[begin, end)` end with a checksum field? */
export const hasChecksum = (bytes: Uint8Array, begin = 0, end = bytes.length) =>
  end - begin > suffixLength && startsWith(bytes, crcKey, end - suffixLength, end) &&
  bytes[end - 2] === 34 && bytes[end - 1] === 125

/** The CRC of a checksummed line without its checksum field (its bytes up to the field, then `}`), continued from `chain`. */
export const lineCrc = (bytes: Uint8Array, chain: number, begin = 0, end = bytes.length) =>
  Checksum.crc32Byte(125, Checksum.crc32(bytes, chain, begin, end - suffixLength))

/** The 8 lowercase hex digits before the line's closing `"}`, as a number. */
export const storedCrc = (bytes: Uint8Array, begin = 0, end = bytes.length): number | undefined => {
  if (end - begin < 10) return undefined
  let value = 0
  for (let i = end - 10; i < end - 2; i++) {
    const byte = bytes[i]!
    const digit = byte >= 48 && byte <= 57 ? byte - 48 : byte >= 97 && byte <= 102 ? byte - 87 : -1
    if (digit < 0) return undefined
    value = value * 16 + digit
  }
  return value
}

/** Is `bytes[begin, end)` a checksummed line whose checksum, continued from `chain`, holds? */
export const checksumHolds = (bytes: Uint8Array, chain: number, begin: number, end: number): number | undefined => {
  if (!hasChecksum(bytes, begin, end)) return undefined
  const crc = lineCrc(bytes, chain, begin, end)
  return storedCrc(bytes, begin, end) === crc ? crc : undefined
}

export const tagKey = ascii("\"_tag\":\"")

/**
 * The payload's kind in a checksummed line, without parsing it: the encoder
 * writes the payload last and its `_tag` last in it, so the line ends with
 * `"_tag":"Kind"}` and the checksum field. `"_tag":"` cannot occur inside a
 * JSON string (its quotes would be escaped). Undefined when the line does not
 * end that way (the caller then decodes it).
 */
export const trailingTag = (bytes: Uint8Array, begin = 0, end = bytes.length): string | undefined => {
  const close = end - suffixLength - 1
  if (close < begin + 1 || bytes[close] !== 125 || bytes[close - 1] !== 34) return undefined
  let open = close - 2
  // Kinds are short ASCII names: give up on anything else.
  while (open >= begin && close - open < 64) {
    const byte = bytes[open]!
    if (byte === 34) break
    const name = (byte >= 48 && byte <= 57) || (byte >= 65 && byte <= 90) || (byte >= 97 && byte <= 122) || byte === 95 || byte === 46
    if (!name) return undefined
    open--
  }
  if (open < begin + tagKey.length - 1 || bytes[open] !== 34 || !startsWith(bytes, tagKey, open - tagKey.length + 1, end)) {
    return undefined
  }
  let tag = ""
  for (let i = open + 1; i < close - 1; i++) tag += String.fromCharCode(bytes[i]!)
  return tag
}

/** The sequence at the start of a line this code wrote, without parsing the rest. */
export const leadingSequence = (bytes: Uint8Array, begin = 0, end = bytes.length): number | undefined => {
  if (!startsWith(bytes, sequencePrefix, begin, end)) return undefined
  let value = 0
  const digits = begin + sequencePrefix.length
  let i = digits
  for (; i < end && i < digits + 16; i++) {
    const byte = bytes[i]!
    if (byte < 48 || byte > 57) break
    value = value * 10 + byte - 48
  }
  return i > digits && i < end && bytes[i] === 44 ? value : undefined
}

const authorKey = ascii(",\"author\":\"")
const timestampKey = ascii("\",\"timestamp\":")
const payloadKey = ascii(",\"payload\":")

/**
 * Reads the events of checksummed lines whose checksum holds the way this
 * code writes them — `{"sequence":N,"author":"…","timestamp":T,"payload":{…}`
 * and the checksum field — off the bytes: the envelope's integers and name,
 * and a delta's payload (`journalFileDelta.ts`); any other payload with
 * `JSON.parse` of the payload alone (`JSON.parse` reads a 13-digit timestamp
 * through its slow number path, and would build the envelope only for it to
 * be copied). One reader per read: it remembers the last few authors, so a
 * run of lines by one author builds its name once.
 */
export class EnvelopeReader {
  private readonly integers = new PlainIntegers()
  private readonly strings = new PlainStrings()
  private readonly authors = new RecentStrings(8)
  private readonly deltas = new DeltaReader(this.strings)

  /**
   * The event on the line `bytes[begin, end)`; undefined when the line is not
   * laid out that way, or a field is not in its plain form (an escaped name, a
   * fractional timestamp…): the caller then parses the whole line.
   */
  event(bytes: Uint8Array, begin: number, end: number): Event.Event | undefined {
    if (!startsWith(bytes, sequencePrefix, begin, end)) return undefined
    const sequence = this.integers.read(bytes, begin + sequencePrefix.length, end)
    if (sequence === undefined || !startsWith(bytes, authorKey, this.integers.end, end)) return undefined
    const nameStart = this.integers.end + authorKey.length
    const nameEnd = this.strings.end(bytes, nameStart, end)
    if (nameEnd < 0 || !startsWith(bytes, timestampKey, nameEnd, end)) return undefined
    const author = this.author(bytes, nameStart, nameEnd)
    if (author === undefined) return undefined
    const timestamp = this.integers.read(bytes, nameEnd + timestampKey.length, end)
    if (timestamp === undefined || !startsWith(bytes, payloadKey, this.integers.end, end)) return undefined
    const payloadStart = this.integers.end + payloadKey.length
    const payloadEnd = end - suffixLength
    if (payloadEnd <= payloadStart || bytes[payloadStart] !== 123 || bytes[payloadEnd - 1] !== 125) return undefined
    const delta = this.deltas.payload(bytes, payloadStart, payloadEnd)
    if (delta !== undefined) return Trusted.eventOf(sequence, author, timestamp, delta)
    const json = textOrUndefined(bytes, payloadStart, payloadEnd)
    if (json === undefined) return undefined
    let payload: unknown
    try {
      payload = JSON.parse(json)
    } catch {
      return undefined
    }
    return Trusted.makeEvent(sequence, author, timestamp, payload)
  }

  /** The author's name, `bytes[begin, end)`, the plain string the last `strings.end` found. */
  private author(bytes: Uint8Array, begin: number, end: number): string | undefined {
    const known = this.authors.find(bytes, begin, end)
    if (known !== undefined) return known
    const name = this.strings.text(bytes, begin, end)
    if (name !== undefined) this.authors.remember(bytes, begin, end, name)
    return name
  }
}

export const headerLine = (start: number) => ascii(`{"chorus.journal":2,"start":${start}}`)

export const parseHeader = (bytes: Uint8Array): Either.Either<number, string> =>
  Either.flatMap(Either.flatMap(text(bytes), Codec.parseJson), (value) => {
    const header = value as { readonly "chorus.journal"?: unknown; readonly start?: unknown }
    if (header["chorus.journal"] !== 2) return Either.left(`unknown journal format ${String(header["chorus.journal"])}`)
    if (typeof header.start !== "number" || !Codec.isSequence(header.start)) return Either.left("the header has no valid start")
    return Either.right(header.start)
  })
