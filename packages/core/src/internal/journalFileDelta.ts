/**
 * A delta's payload read off a file journal line's bytes, without
 * `JSON.parse`: deltas are most of a journal's lines (a model's reply is a
 * few events around tens of deltas), and a delta is four short fields.
 *
 * The encoder (`journalTrustedEncode.ts`) writes a delta's fields in its
 * class's order, `_tag` last:
 * `{"itemId":"…","contentIndex":N,"delta":"…","_tag":"TextDelta"}`
 * (`summaryIndex` for `ReasoningSummaryDelta`, no index for
 * `FunctionCallArgumentsDelta`). A payload laid out exactly so, with plain
 * strings (no escape, no control character, valid UTF-8) and a plain
 * integer, is built as the other journals rebuild a delta (`Payload.delta`,
 * a plain constructor on the class's prototype): the same class, the same
 * own fields in the same order as the Schema decode gives. Anything else —
 * another kind, another layout, an escape — is left to the caller, which
 * parses the payload. Used only on lines whose checksum holds (this code
 * wrote them from valid events), like the trusted decoder; it gives up
 * altogether if the delta classes' fields are not the ones it reads. (The
 * SQL journal reads the same layout off a row's text: `journalDeltaText.ts`;
 * here it is read off the bytes, so a line's payload is never decoded to a
 * string.)
 *
 * @internal
 */
import * as Event from "../Event.js"
import * as Payload from "./environment/payload.js"
import { PlainIntegers, type PlainStrings, RecentStrings } from "./journalFileStrings.js"

const ascii = (text: string) => new TextEncoder().encode(text)

const itemKey = ascii("{\"itemId\":\"")
const contentIndexKey = ascii("\",\"contentIndex\":")
const summaryIndexKey = ascii("\",\"summaryIndex\":")
/** After the item id when there is no index. */
const deltaAfterItemKey = ascii("\",\"delta\":\"")
/** After an index. */
const deltaKey = ascii(",\"delta\":\"")
const tagKey = ascii("\",\"_tag\":\"")

const textDelta = ascii("TextDelta")
const refusalDelta = ascii("RefusalDelta")
const reasoningDelta = ascii("ReasoningDelta")
const reasoningSummaryDelta = ascii("ReasoningSummaryDelta")
const functionCallArgumentsDelta = ascii("FunctionCallArgumentsDelta")

const matches = (bytes: Uint8Array, key: Uint8Array, at: number, end: number): boolean => {
  if (end < at + key.length) return false
  for (let i = 0; i < key.length; i++) if (bytes[at + i] !== key[i]) return false
  return true
}

/** `bytes[begin, end)` is exactly `name`. */
const named = (bytes: Uint8Array, name: Uint8Array, begin: number, end: number) =>
  end - begin === name.length && matches(bytes, name, begin, end)


const enum Index {
  None = 0,
  Content = 1,
  Summary = 2
}

/**
 * Reads delta payloads off lines. One per read: it remembers the last few
 * item ids, so the deltas of one item build its id once.
 */
export class DeltaReader {
  private readonly items = new RecentStrings(4)
  private readonly integers = new PlainIntegers()

  constructor(private readonly strings: PlainStrings) {}

  /**
   * The delta whose encoded payload is `bytes[begin, end)` (its braces
   * included), or undefined when it is not a delta laid out as the encoder
   * writes it with plain fields.
   */
  payload(bytes: Uint8Array, begin: number, end: number): Event.Delta | undefined {
    if (!matches(bytes, itemKey, begin, end)) return undefined
    if (!Payload.deltaFieldsKnown()) return undefined
    const strings = this.strings
    const itemStart = begin + itemKey.length
    const itemEnd = strings.end(bytes, itemStart, end)
    if (itemEnd < 0) return undefined
    const itemId = this.itemId(bytes, itemStart, itemEnd)
    if (itemId === undefined) return undefined
    let at: number
    let kind: Index
    let index = 0
    if (matches(bytes, deltaAfterItemKey, itemEnd, end)) {
      kind = Index.None
      at = itemEnd + deltaAfterItemKey.length
    } else {
      if (matches(bytes, contentIndexKey, itemEnd, end)) {
        kind = Index.Content
        at = itemEnd + contentIndexKey.length
      } else if (matches(bytes, summaryIndexKey, itemEnd, end)) {
        kind = Index.Summary
        at = itemEnd + summaryIndexKey.length
      } else {
        return undefined
      }
      const read = this.integers.read(bytes, at, end)
      if (read === undefined) return undefined
      index = read
      at = this.integers.end
      if (!matches(bytes, deltaKey, at, end)) return undefined
      at += deltaKey.length
    }
    const deltaStart = at
    const deltaEnd = strings.end(bytes, deltaStart, end)
    if (deltaEnd < 0) return undefined
    const delta = strings.text(bytes, deltaStart, deltaEnd)
    if (delta === undefined || !matches(bytes, tagKey, deltaEnd, end)) return undefined
    // The kind's name, then `"}` closing the payload.
    const tagStart = deltaEnd + tagKey.length
    const tagEnd = end - 2
    if (bytes[tagEnd] !== 34 || bytes[tagEnd + 1] !== 125) return undefined
    switch (kind) {
      case Index.Content:
        if (named(bytes, textDelta, tagStart, tagEnd)) return Payload.delta("TextDelta", itemId, index, delta)
        if (named(bytes, refusalDelta, tagStart, tagEnd)) return Payload.delta("RefusalDelta", itemId, index, delta)
        if (named(bytes, reasoningDelta, tagStart, tagEnd)) return Payload.delta("ReasoningDelta", itemId, index, delta)
        return undefined
      case Index.Summary:
        return named(bytes, reasoningSummaryDelta, tagStart, tagEnd)
          ? Payload.delta("ReasoningSummaryDelta", itemId, index, delta)
          : undefined
      case Index.None:
        return named(bytes, functionCallArgumentsDelta, tagStart, tagEnd)
          ? Payload.delta("FunctionCallArgumentsDelta", itemId, 0, delta)
          : undefined
    }
  }

  /** The item id of `bytes[begin, end)`, the range the last `strings.end` found. */
  private itemId(bytes: Uint8Array, begin: number, end: number): string | undefined {
    const remembered = this.items.find(bytes, begin, end)
    if (remembered !== undefined) return remembered
    const itemId = this.strings.text(bytes, begin, end)
    if (itemId !== undefined) this.items.remember(bytes, begin, end, itemId)
    return itemId
  }
}
