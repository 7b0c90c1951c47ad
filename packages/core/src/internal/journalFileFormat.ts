/**
 * The line format of the file journal (`journalFile.ts`): splitting byte
 * chunks into lines, the header, the checksum field, and what can be read
 * off a checksummed line without parsing it (its sequence, its kind).
 *
 * @internal
 */
import { Either } from "effect"
import * as Checksum from "./journalChecksum.js"
import * as Codec from "./journalCodec.js"

export const NEWLINE = 10

const utf8 = new TextDecoder("utf-8", { fatal: true })
const utf8Encoder = new TextEncoder()

/** Splits byte chunks into lines, keeping the file offset of each line. */
export class LineSplitter {
  private carry: Array<Uint8Array> = []
  private carryLength = 0
  /** File offset of the first byte not yet returned in a complete line. */
  offset: number

  constructor(offset: number) {
    this.offset = offset
  }

  /** Calls `onLine` for each complete line of the chunk (without its `\n`) until it returns false. */
  push(data: Uint8Array, onLine: (bytes: Uint8Array, start: number) => boolean): boolean {
    // Lines are cut from a plain view of the chunk (the file system gives Node `Buffer`s, whose
    // `subarray` builds another `Buffer` per line), but searched in the chunk itself: a `Buffer`'s
    // `indexOf` is a native byte search, a `Uint8Array`'s a generic element loop.
    const chunk = new Uint8Array(data.buffer, data.byteOffset, data.byteLength)
    let position = 0
    while (position < chunk.length) {
      const newline = data.indexOf(NEWLINE, position)
      if (newline === -1) {
        this.carry.push(chunk.subarray(position))
        this.carryLength += chunk.length - position
        return true
      }
      let bytes = chunk.subarray(position, newline)
      if (this.carryLength > 0) {
        this.carry.push(bytes)
        bytes = concat(this.carry, this.carryLength + bytes.length)
        this.carry = []
        this.carryLength = 0
      }
      const start = this.offset
      this.offset += bytes.length + 1
      position = newline + 1
      if (!onLine(bytes, start)) return false
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

export const text = (bytes: Uint8Array): Either.Either<string, string> => {
  try {
    return Either.right(utf8.decode(bytes))
  } catch {
    return Either.left("not valid UTF-8")
  }
}

export const ascii = (text: string) => utf8Encoder.encode(text)
export const headerPrefix = ascii("{\"chorus.journal\":")
export const crcKey = ascii(",\"crc\":\"")
/** `,"crc":"` + 8 hex digits + `"}`. */
export const suffixLength = crcKey.length + 8 + 2
export const closeBrace = ascii("}")
export const sequencePrefix = ascii("{\"sequence\":")

export const startsWith = (bytes: Uint8Array, prefix: Uint8Array, at = 0) => {
  if (bytes.length < at + prefix.length) return false
  for (let i = 0; i < prefix.length; i++) if (bytes[at + i] !== prefix[i]) return false
  return true
}

/** Does the line end with a checksum field? */
export const hasChecksum = (bytes: Uint8Array) =>
  bytes.length > suffixLength && startsWith(bytes, crcKey, bytes.length - suffixLength) &&
  bytes[bytes.length - 2] === 34 && bytes[bytes.length - 1] === 125

/** The CRC of a checksummed line without its checksum field, continued from `chain`. */
export const lineCrc = (bytes: Uint8Array, chain: number) =>
  Checksum.crc32(closeBrace, Checksum.crc32(bytes, chain, 0, bytes.length - suffixLength))

/** The 8 lowercase hex digits before the line's closing `"}`, as a number. */
export const storedCrc = (bytes: Uint8Array): number | undefined => {
  let value = 0
  for (let i = bytes.length - 10; i < bytes.length - 2; i++) {
    const byte = bytes[i]!
    const digit = byte >= 48 && byte <= 57 ? byte - 48 : byte >= 97 && byte <= 102 ? byte - 87 : -1
    if (digit < 0) return undefined
    value = value * 16 + digit
  }
  return value
}

export const tagKey = ascii("\"_tag\":\"")

/**
 * The payload's kind in a checksummed line, without parsing it: the encoder
 * writes the payload last and its `_tag` last in it, so the line ends with
 * `"_tag":"Kind"}` and the checksum field. `"_tag":"` cannot occur inside a
 * JSON string (its quotes would be escaped). Undefined when the line does not
 * end that way (the caller then decodes it).
 */
export const trailingTag = (bytes: Uint8Array): string | undefined => {
  const close = bytes.length - suffixLength - 1
  if (close < 1 || bytes[close] !== 125 || bytes[close - 1] !== 34) return undefined
  let open = close - 2
  // Kinds are short ASCII names: give up on anything else.
  while (open >= 0 && close - open < 64) {
    const byte = bytes[open]!
    if (byte === 34) break
    const name = (byte >= 48 && byte <= 57) || (byte >= 65 && byte <= 90) || (byte >= 97 && byte <= 122) || byte === 95 || byte === 46
    if (!name) return undefined
    open--
  }
  if (open < tagKey.length - 1 || bytes[open] !== 34 || !startsWith(bytes, tagKey, open - tagKey.length + 1)) return undefined
  let tag = ""
  for (let i = open + 1; i < close - 1; i++) tag += String.fromCharCode(bytes[i]!)
  return tag
}

/** The sequence at the start of a line this code wrote, without parsing the rest. */
export const leadingSequence = (bytes: Uint8Array): number | undefined => {
  if (!startsWith(bytes, sequencePrefix)) return undefined
  let value = 0
  let i = sequencePrefix.length
  for (; i < bytes.length && i < sequencePrefix.length + 16; i++) {
    const byte = bytes[i]!
    if (byte < 48 || byte > 57) break
    value = value * 10 + byte - 48
  }
  return i > sequencePrefix.length && bytes[i] === 44 ? value : undefined
}

export const headerLine = (start: number) => ascii(`{"chorus.journal":2,"start":${start}}`)

export const parseHeader = (bytes: Uint8Array): Either.Either<number, string> =>
  Either.flatMap(Either.flatMap(text(bytes), Codec.parseJson), (value) => {
    const header = value as { readonly "chorus.journal"?: unknown; readonly start?: unknown }
    if (header["chorus.journal"] !== 2) return Either.left(`unknown journal format ${String(header["chorus.journal"])}`)
    if (typeof header.start !== "number" || !Codec.isSequence(header.start)) return Either.left("the header has no valid start")
    return Either.right(header.start)
  })
