/**
 * A delta payload read straight off its JSON text, for journals that store
 * each payload as text (SQL): most of a journal's rows are deltas, and
 * `JSON.parse` plus a decode of the object it builds is most of what reading
 * one costs.
 *
 * Only text laid out exactly as this code's encoder writes a delta is read
 * here — `{"itemId":"…","contentIndex":N,"delta":"…","_tag":"TextDelta"}`
 * (`summaryIndex` for a reasoning summary, no index for function call
 * arguments) — with strings holding no escape and a plain integer. Anything
 * else gives `undefined` and the caller parses the text. A string with no
 * backslash is its own JSON: its characters are the value's.
 *
 * The caller trusts the text (its checksum holds: this code wrote it from a
 * valid event), as `journalTrusted.ts` does; what is built equals what the
 * Schema decode of the same text gives (the same class, the same own fields
 * in the same order), and nothing is read if the delta classes' fields
 * change (`Payload.deltaFieldsKnown`). The file journal reads the same
 * layout off a line's bytes (`journalFileDelta.ts`).
 *
 * @internal
 */
import type * as Event from "../Event.js"
import * as Payload from "./environment/payload.js"

/** What follows the item id, up to the index or the delta, by kind. */
const layouts: { readonly [Tag in Event.Delta["_tag"]]: { readonly index: string | undefined; readonly end: string } } = {
  TextDelta: { index: "\",\"contentIndex\":", end: "\",\"_tag\":\"TextDelta\"}" },
  RefusalDelta: { index: "\",\"contentIndex\":", end: "\",\"_tag\":\"RefusalDelta\"}" },
  ReasoningSummaryDelta: { index: "\",\"summaryIndex\":", end: "\",\"_tag\":\"ReasoningSummaryDelta\"}" },
  ReasoningDelta: { index: "\",\"contentIndex\":", end: "\",\"_tag\":\"ReasoningDelta\"}" },
  FunctionCallArgumentsDelta: { index: undefined, end: "\",\"_tag\":\"FunctionCallArgumentsDelta\"}" }
}

const itemKey = "{\"itemId\":\""
const deltaAfterIndex = ",\"delta\":\""
const deltaAfterItem = "\",\"delta\":\""

const isDeltaTag = (tag: string): tag is Event.Delta["_tag"] => Object.hasOwn(layouts, tag)

/** The delta of kind `tag` whose JSON is `text`, when laid out as the encoder writes it; else undefined. */
export const fromJson = (tag: string, text: string): Event.Delta | undefined => {
  if (!isDeltaTag(tag) || !text.startsWith(itemKey) || text.includes("\\") || !Payload.deltaFieldsKnown()) return undefined
  const layout = layouts[tag]
  const itemStart = itemKey.length
  const itemEnd = text.indexOf("\"", itemStart)
  if (itemEnd < 0) return undefined
  let index = 0
  let deltaStart: number
  if (layout.index === undefined) {
    if (!text.startsWith(deltaAfterItem, itemEnd)) return undefined
    deltaStart = itemEnd + deltaAfterItem.length
  } else {
    if (!text.startsWith(layout.index, itemEnd)) return undefined
    const digits = itemEnd + layout.index.length
    let i = digits
    for (; i < text.length && i - digits < 16; i++) {
      const code = text.charCodeAt(i)
      if (code < 48 || code > 57) break
      index = index * 10 + code - 48
    }
    const count = i - digits
    // A plain JSON integer exact as a double: no sign, no leading zero, at most 15 digits.
    if (count === 0 || count > 15 || (count > 1 && text.charCodeAt(digits) === 48)) return undefined
    if (!text.startsWith(deltaAfterIndex, i)) return undefined
    deltaStart = i + deltaAfterIndex.length
  }
  // The delta runs to the quote the layout's end begins with: a quote inside it would need a backslash.
  const deltaEnd = text.length - layout.end.length
  if (deltaEnd < deltaStart || text.indexOf("\"", deltaStart) !== deltaEnd || !text.endsWith(layout.end)) return undefined
  for (let i = itemStart; i < itemEnd; i++) if (text.charCodeAt(i) < 32) return undefined
  for (let i = deltaStart; i < deltaEnd; i++) if (text.charCodeAt(i) < 32) return undefined
  return Payload.delta(tag, text.slice(itemStart, itemEnd), index, text.slice(deltaStart, deltaEnd))
}
