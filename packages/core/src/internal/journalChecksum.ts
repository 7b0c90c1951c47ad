/**
 * Checksums of journal records: CRC-32 (IEEE), chained — each record's
 * checksum is the CRC of its bytes continued from the previous record's, so
 * a changed byte, a removed or reordered record all break the chain from that
 * record on. CRC-32 catches every change of up to 32 consecutive bits; it is
 * an integrity check against damage and careless edits, not a signature.
 *
 * Computed by `node:zlib`'s native `crc32` (the same CRC, chained the same
 * way: its second argument continues a previous value), with a table-driven
 * fallback where a runtime lacks it.
 *
 * @internal
 */
import * as Zlib from "node:zlib"

const table = (() => {
  const entries = new Uint32Array(256)
  for (let n = 0; n < 256; n++) {
    let c = n
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1
    entries[n] = c >>> 0
  }
  return entries
})()

type Native = (data: Uint8Array | string, value?: number) => number
const native: Native | undefined = typeof Zlib.crc32 === "function" ? Zlib.crc32 : undefined

/** Continues the CRC-32 `seed` (0 to start) over `bytes[start, end)`. */
export const crc32 = (bytes: Uint8Array, seed: number, start = 0, end = bytes.length): number => {
  if (end <= start) return seed >>> 0
  if (native !== undefined) return native(start === 0 && end === bytes.length ? bytes : bytes.subarray(start, end), seed)
  return crc32Table(bytes, seed, start, end)
}

/** The same CRC computed in JavaScript, one table lookup per byte. */
export const crc32Table = (bytes: Uint8Array, seed: number, start = 0, end = bytes.length): number => {
  let crc = (seed ^ 0xffffffff) >>> 0
  for (let i = start; i < end; i++) crc = table[(crc ^ bytes[i]!) & 0xff]! ^ (crc >>> 8)
  return (crc ^ 0xffffffff) >>> 0
}

const encoder = new TextEncoder()

/** Continues the CRC-32 `seed` over the UTF-8 bytes of `text`. */
export const crc32Text = (text: string, seed: number): number =>
  native !== undefined ? native(text, seed) : crc32Table(encoder.encode(text), seed)

/** Eight lowercase hex digits. */
export const hex = (crc: number): string => crc.toString(16).padStart(8, "0")
