/**
 * The in-memory journal's store: events in columns, deltas without objects.
 *
 * A stream of a million deltas is most of what an environment's journal
 * holds, and as objects each costs ~139 bytes of heap (the stamped event,
 * its boxed timestamp, the delta payload, the array slot) beside its text.
 * Here a delta is a row of typed arrays — sequence and timestamp (8 bytes
 * each), its kind (1), author and item as indexes into a table of the
 * strings seen (4 each), its content or summary index (4) — and its text (an
 * 8-byte slot): ~37 bytes. Every other event is kept as it came. A read
 * rebuilds a delta's event by prototype, as `Event.unsafeMake` and
 * `Event.unsafeTextDelta` build them: the same class, the same own fields in
 * the same order, equal to what was appended.
 *
 * Columns grow in chunks (64 rows, doubling up to 4,096), so appending never
 * copies what is stored and a small journal stays small.
 *
 * @internal
 */
import * as Event from "../Event.js"
import * as Payload from "./environment/payload.js"

/** How a row is stored: the event object itself, or one of the delta kinds by its fields. */
const enum Kind {
  Object = 0,
  TextDelta = 1,
  RefusalDelta = 2,
  ReasoningSummaryDelta = 3,
  ReasoningDelta = 4,
  FunctionCallArgumentsDelta = 5
}

const tags: ReadonlyArray<Event.Delta["_tag"] | undefined> = [
  undefined,
  "TextDelta",
  "RefusalDelta",
  "ReasoningSummaryDelta",
  "ReasoningDelta",
  "FunctionCallArgumentsDelta"
]

interface Chunk {
  readonly sequence: Float64Array
  readonly timestamp: Float64Array
  readonly kind: Uint8Array
  readonly author: Uint32Array
  readonly item: Uint32Array
  readonly index: Uint32Array
  /** A delta's text, or the whole event for `Kind.Object`. */
  readonly values: Array<string | Event.Event>
  length: number
}

const firstChunk = 64
const largestChunk = 4_096
const maxIndex = 0xffff_ffff

/** Bytes of one row in the typed columns: sequence, timestamp (8 each), author, item, index (4 each), kind (1). */
const rowBytes = 29

/** A chunk's columns are views of one buffer (one allocation, not six). */
const chunkOf = (capacity: number): Chunk => {
  const buffer = new ArrayBuffer(capacity * rowBytes)
  return {
    sequence: new Float64Array(buffer, 0, capacity),
    timestamp: new Float64Array(buffer, capacity * 8, capacity),
    author: new Uint32Array(buffer, capacity * 16, capacity),
    item: new Uint32Array(buffer, capacity * 20, capacity),
    index: new Uint32Array(buffer, capacity * 24, capacity),
    kind: new Uint8Array(buffer, capacity * 28, capacity),
    values: new Array(capacity),
    length: 0
  }
}

const fitsIndex = (index: number) => Number.isInteger(index) && index >= 0 && index <= maxIndex

/** The columns of one in-memory journal. */
export interface Store {
  readonly append: (events: ReadonlyArray<Event.Event>) => void
  /** `append` of one event, without an array. */
  readonly appendOne: (event: Event.Event) => void
  /**
   * The events with `from <= sequence <= to`, of the given kinds (all when absent), of what is stored
   * now: each call of the function returned gives the next page of them, rebuilt (one chunk of rows at a
   * time, so a long read holds one page of objects, not the whole journal), until `undefined`.
   */
  readonly pages: (
    from: number,
    to: number,
    kinds: ReadonlyArray<Event.Payload["_tag"]> | undefined
  ) => () => Array<Event.Event> | undefined
  /** The sequence of the last event, or -1. */
  readonly last: () => number
}

/**
 * The store behind each in-memory journal service, by service: a journal
 * whose append is a synchronous store the environment writes in its publish
 * step, with no writer fiber or queue in between (`environment/journalWriter.ts`).
 * A service that wraps one (to record or fail appends) is not in here, and
 * goes through the writer like any other journal.
 */
export const stores = new WeakMap<object, Store>()

export const make = (): Store => {
  const chunks: Array<Chunk> = []
  const strings: Array<string> = []
  const interned = new Map<string, number>()
  const intern = (text: string): number => {
    let index = interned.get(text)
    if (index === undefined) {
      index = strings.length
      strings.push(text)
      interned.set(text, index)
    }
    return index
  }

  // Consecutive events mostly share their author, and consecutive deltas their item: one entry each
  // before the table's lookup.
  const lastEntry = () => {
    let last = ""
    let lastIndex = -1
    return (text: string): number => {
      if (text !== last || lastIndex < 0) {
        last = text
        lastIndex = intern(text)
      }
      return lastIndex
    }
  }
  const internAuthor = lastEntry()
  const internItem = lastEntry()

  const room = (): Chunk => {
    const last = chunks[chunks.length - 1]
    if (last !== undefined && last.length < last.sequence.length) return last
    const chunk = chunkOf(chunks.length >= 6 ? largestChunk : firstChunk << chunks.length)
    chunks.push(chunk)
    return chunk
  }

  /** Stores a delta by its fields; false when it cannot be (an index beyond 32 bits). */
  const storeDelta = (chunk: Chunk, row: number, payload: Event.Delta): boolean => {
    let kind: Kind
    let index = 0
    switch (payload._tag) {
      case "TextDelta":
        kind = Kind.TextDelta
        index = payload.contentIndex
        break
      case "RefusalDelta":
        kind = Kind.RefusalDelta
        index = payload.contentIndex
        break
      case "ReasoningSummaryDelta":
        kind = Kind.ReasoningSummaryDelta
        index = payload.summaryIndex
        break
      case "ReasoningDelta":
        kind = Kind.ReasoningDelta
        index = payload.contentIndex
        break
      case "FunctionCallArgumentsDelta":
        kind = Kind.FunctionCallArgumentsDelta
        break
    }
    if (!fitsIndex(index)) return false
    chunk.kind[row] = kind
    chunk.item[row] = internItem(payload.itemId)
    chunk.index[row] = index
    return true
  }

  /** Stores one event in the last chunk, or a new one when it is full. */
  const appendOne = (event: Event.Event) => {
    const chunk = room()
    const row = chunk.length
    chunk.sequence[row] = event.sequence
    chunk.timestamp[row] = event.timestamp
    chunk.author[row] = internAuthor(event.author)
    const payload = event.payload
    if (Event.isDelta(payload) && storeDelta(chunk, row, payload)) {
      chunk.values[row] = payload.delta
    } else {
      chunk.kind[row] = Kind.Object
      chunk.values[row] = event
    }
    chunk.length = row + 1
  }

  const append = (events: ReadonlyArray<Event.Event>) => {
    // An empty append stores nothing, not even a chunk (an empty last chunk would hide the events before it).
    for (let i = 0; i < events.length; i++) appendOne(events[i]!)
  }

  const rebuild = (chunk: Chunk, row: number): Event.Event => {
    const kind = chunk.kind[row] as Kind
    const value = chunk.values[row]!
    if (kind === Kind.Object) return value as Event.Event
    const payload = Payload.delta(tags[kind]!, strings[chunk.item[row]!]!, chunk.index[row]!, value as string)
    return Event.unsafeMake({
      sequence: chunk.sequence[row]!,
      author: strings[chunk.author[row]!]!,
      timestamp: chunk.timestamp[row]!,
      payload
    })
  }

  const tagOf = (chunk: Chunk, row: number): Event.Payload["_tag"] => {
    const kind = chunk.kind[row] as Kind
    return kind === Kind.Object ? (chunk.values[row] as Event.Event).payload._tag : tags[kind]!
  }

  /** The first chunk that may hold `from` (its first sequence is at most `from`), by binary search. */
  const firstChunkFor = (from: number): number => {
    let low = 0
    let high = chunks.length
    while (low < high) {
      const mid = (low + high) >>> 1
      if (chunks[mid]!.sequence[0]! <= from) low = mid + 1
      else high = mid
    }
    return Math.max(0, low - 1)
  }

  const pages = (from: number, to: number, kinds: ReadonlyArray<Event.Payload["_tag"]> | undefined) => {
    // What is stored now, and no more: rows are never rewritten, so later appends are simply not seen.
    const endChunk = chunks.length
    const endRow = endChunk === 0 ? 0 : chunks[endChunk - 1]!.length
    let c = firstChunkFor(from)
    let done = false
    return (): Array<Event.Event> | undefined => {
      while (!done && c < endChunk) {
        const chunk = chunks[c]!
        const rows = c === endChunk - 1 ? endRow : chunk.length
        c++
        const out: Array<Event.Event> = []
        for (let row = 0; row < rows; row++) {
          const sequence = chunk.sequence[row]!
          if (sequence < from) continue
          if (sequence > to) {
            done = true
            break
          }
          if (kinds === undefined || kinds.includes(tagOf(chunk, row))) out.push(rebuild(chunk, row))
        }
        if (out.length > 0) return out
      }
      return undefined
    }
  }

  const last = () => {
    const chunk = chunks[chunks.length - 1]
    return chunk === undefined || chunk.length === 0 ? -1 : chunk.sequence[chunk.length - 1]!
  }

  return { append, appendOne, pages, last }
}
