/**
 * Checksums of journal records: CRC-32 (IEEE), chained — each record's
 * checksum is the CRC of its bytes continued from the previous record's, so
 * a changed byte, a removed or reordered record all break the chain from that
 * record on. CRC-32 catches every change of up to 32 consecutive bits; it is
 * an integrity check against damage and careless edits, not a signature.
 *
 * Records are short (a journal line is ~200 bytes), so most of the cost of
 * a native call would be the call itself (and the `subarray` it needs):
 * ranges up to {@link nativeFrom} bytes are computed here, eight bytes a
 * step (slicing-by-8, no allocation), longer ones by `node:zlib`'s native
 * `crc32` where the runtime has it. Both give the same CRC.
 *
 * @internal
 */
import * as Zlib from "node:zlib"

/** `tables[k * 256 + n]`: the CRC of byte `n` followed by `k` zero bytes (slicing-by-8). */
const tables = (() => {
  const entries = new Int32Array(8 * 256)
  for (let n = 0; n < 256; n++) {
    let c = n
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1
    entries[n] = c
  }
  for (let n = 0; n < 256; n++) {
    let c = entries[n]!
    for (let k = 1; k < 8; k++) {
      c = entries[c & 0xff]! ^ (c >>> 8)
      entries[k * 256 + n] = c
    }
  }
  return entries
})()

type Native = (data: Uint8Array | string, value?: number) => number
const native: Native | undefined = typeof Zlib.crc32 === "function" ? Zlib.crc32 : undefined

/** Ranges at least this long go to the native CRC (where there is one); shorter ones are computed here. */
const nativeFrom = 4096

/** Continues the CRC-32 `seed` (0 to start) over `bytes[start, end)`. */
export const crc32 = (bytes: Uint8Array, seed: number, start = 0, end = bytes.length): number => {
  if (end <= start) return seed >>> 0
  if (native !== undefined && end - start >= nativeFrom) {
    return native(start === 0 && end === bytes.length ? bytes : bytes.subarray(start, end), seed)
  }
  return crc32Table(bytes, seed, start, end)
}

/** The same CRC computed in JavaScript, eight bytes a step. */
export const crc32Table = (bytes: Uint8Array, seed: number, start = 0, end = bytes.length): number => {
  const t = tables
  let crc = ~seed
  let i = start
  for (; i + 8 <= end; i += 8) {
    const low = crc ^ (bytes[i]! | (bytes[i + 1]! << 8) | (bytes[i + 2]! << 16) | (bytes[i + 3]! << 24))
    crc = t[1792 + (low & 0xff)]! ^ t[1536 + ((low >>> 8) & 0xff)]! ^ t[1280 + ((low >>> 16) & 0xff)]! ^
      t[1024 + (low >>> 24)]! ^ t[768 + bytes[i + 4]!]! ^ t[512 + bytes[i + 5]!]! ^ t[256 + bytes[i + 6]!]! ^ t[bytes[i + 7]!]!
  }
  for (; i < end; i++) crc = t[(crc ^ bytes[i]!) & 0xff]! ^ (crc >>> 8)
  return ~crc >>> 0
}

/** Continues the CRC-32 `seed` over one byte. */
export const crc32Byte = (byte: number, seed: number): number => (~(tables[(~seed ^ byte) & 0xff]! ^ (~seed >>> 8))) >>> 0

const encoder = new TextEncoder()

/**
 * Continues the CRC-32 `seed` over the UTF-8 bytes of `text` from character
 * `start` on: its ASCII prefix here (a character is its byte), the rest from
 * its UTF-8 encoding.
 */
export const crc32Text = (text: string, seed: number, start = 0): number => {
  const t = tables
  let crc = ~seed
  const length = text.length
  let i = start
  for (; i < length; i++) {
    const code = text.charCodeAt(i)
    if (code >= 0x80) break
    crc = t[(crc ^ code) & 0xff]! ^ (crc >>> 8)
  }
  if (i === length) return ~crc >>> 0
  const rest = text.slice(i)
  const value = ~crc >>> 0
  return native !== undefined ? native(rest, value) : crc32Table(encoder.encode(rest), value)
}

/** Eight lowercase hex digits. */
export const hex = (crc: number): string => crc.toString(16).padStart(8, "0")
