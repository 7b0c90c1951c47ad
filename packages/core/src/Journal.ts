/**
 * The journal: the append-only event log behind an environment.
 *
 * The environment writes every event through the journal, in sequence order
 * and in batches, and replays it for subscribers that start from a sequence
 * number. An environment started on a journal that already holds events
 * continues its sequence numbers.
 *
 * @since 0.1.0
 */
import { Context, Effect, Layer, Schema, Stream } from "effect"
import type * as Event from "./Event.js"

/** The journal could not be read or written. */
export class JournalError extends Schema.TaggedError<JournalError>()("JournalError", {
  operation: Schema.String,
  detail: Schema.String,
  cause: Schema.optional(Schema.Defect)
}) {
  override get message() {
    return `journal ${this.operation} failed: ${this.detail}`
  }
}

/** A journal line (or row) that cannot be decoded, anywhere but a torn last line. */
export class JournalCorrupted extends Schema.TaggedError<JournalCorrupted>()("JournalCorrupted", {
  location: Schema.String,
  line: Schema.Number,
  detail: Schema.String
}) {
  override get message() {
    return `journal ${this.location} is corrupted at line ${this.line}: ${this.detail}`
  }
}

/** A repair made when the journal was opened (a torn last line that was cut off). */
export interface Repair {
  readonly line: number
  readonly bytes: number
}

/** The journal service. */
export interface Service {
  /** Appends events; they arrive in sequence order, with no gap. */
  readonly append: (events: ReadonlyArray<Event.Event>) => Effect.Effect<void, JournalError>
  /** Events with `from <= sequence` (and `sequence <= to` when given), in order. */
  readonly read: (options?: {
    readonly from?: number | undefined
    readonly to?: number | undefined
  }) => Stream.Stream<Event.Event, JournalError | JournalCorrupted>
  /** The sequence of the last event written, or -1 for an empty journal. */
  readonly lastSequence: Effect.Effect<number, JournalError | JournalCorrupted>
  /** Repairs made when the journal was opened; the environment publishes them. */
  readonly repairs: ReadonlyArray<Repair>
}

/** The journal service tag. */
export class Journal extends Context.Tag("@chorus/core/Journal")<Journal, Service>() {}

/** An in-memory journal: fast, lost with the process. */
export const makeMemory: Effect.Effect<Service> = Effect.sync(
  () => {
    // Owned by this journal instance only; appends stay O(batch), reads copy a slice.
    const events: Array<Event.Event> = []
    return {
      append: (batch) => Effect.sync(() => {
        for (const event of batch) events.push(event)
      }),
      read: (options) =>
        Stream.suspend(() => {
          const from = options?.from ?? 0
          const to = options?.to ?? Number.POSITIVE_INFINITY
          const start = lowerBound(events, from)
          const slice: Array<Event.Event> = []
          for (let i = start; i < events.length; i++) {
            const event = events[i]!
            if (event.sequence > to) break
            slice.push(event)
          }
          return Stream.fromIterable(slice)
        }),
      lastSequence: Effect.sync(() => events.length === 0 ? -1 : events[events.length - 1]!.sequence),
      repairs: []
    }
  }
)

/** Index of the first event whose sequence is at least `from`. */
export const lowerBound = (events: ReadonlyArray<Event.Event>, from: number): number => {
  let low = 0
  let high = events.length
  while (low < high) {
    const mid = (low + high) >>> 1
    if (events[mid]!.sequence < from) low = mid + 1
    else high = mid
  }
  return low
}

/** The in-memory journal as a layer. */
export const layerMemory: Layer.Layer<Journal> = Layer.effect(Journal, makeMemory)
