import { Chunk, Effect } from "effect"
import * as Event from "../Event.js"

/**
 * A subscriber's mailbox: never blocks the publisher, never drops an
 * item-level event, and bounds memory for subscribers that fall behind by
 * coalescing their deltas.
 *
 * While the backlog is below `coalesceAfter` entries every event is kept as
 * is. Past it, a delta is merged into the backlog's pending delta of the same
 * item, kind and index (text appended), so the backlog grows with the number
 * of items and non-delta events, not with the number of deltas. A merged entry
 * keeps the sequence of its first delta.
 */
export class Mailbox {
  private buffer: Array<Event.Event> = []
  private head = 0
  /** Where each item's pending deltas are, while coalescing; made on first use (most mailboxes never lag). */
  private pendingDeltas: Map<string, Map<string, number>> | undefined = undefined
  private waiter: (() => void) | undefined = undefined
  private closed = false
  coalesced = 0

  constructor(
    readonly coalesceAfter: number,
    readonly accepts: ((event: Event.Event) => boolean) | undefined
  ) {}

  /**
   * Whether its reader is suspended in `take`, waiting for an entry (its backlog is then empty).
   * A reader interrupted there counts until the next entry or `take`: `take` keeps no interrupt
   * handler (see there), so this is exact only for a reader whose fiber ends when interrupted.
   */
  get waiting(): boolean {
    return this.waiter !== undefined
  }

  get backlog(): number {
    return this.buffer.length - this.head
  }

  offer(event: Event.Event): void {
    if (this.closed) return
    if (this.accepts !== undefined && !this.accepts(event)) return
    const payload = event.payload
    if (this.backlog >= this.coalesceAfter) {
      if (Event.isDelta(payload)) {
        const pending = this.pendingDeltas ??= new Map()
        let slots = pending.get(payload.itemId)
        if (slots === undefined) {
          slots = new Map()
          pending.set(payload.itemId, slots)
        }
        const key = deltaKey(payload)
        const index = slots.get(key)
        if (index !== undefined) {
          this.buffer[index] = mergeDelta(this.buffer[index]!, payload)
          this.coalesced++
          return
        }
        slots.set(key, this.buffer.length)
      } else if (payload._tag === "ItemDone") {
        // No delta of a finished item follows.
        this.pendingDeltas?.delete(payload.item.id)
      }
    }
    this.buffer.push(event)
    this.wake()
  }

  close(): void {
    this.closed = true
    this.wake()
  }

  private wake(): void {
    const waiter = this.waiter
    if (waiter !== undefined) {
      this.waiter = undefined
      waiter()
    }
  }

  private drain(max: number): Chunk.Chunk<Event.Event> {
    if (max >= this.backlog) {
      const taken = this.head === 0 ? this.buffer : this.buffer.slice(this.head)
      this.buffer = []
      this.head = 0
      this.pendingDeltas = undefined
      return Chunk.unsafeFromArray(taken)
    }
    const taken = this.buffer.slice(this.head, this.head + max)
    this.head += max
    // Positions recorded for coalescing may now point at taken entries: forget them.
    this.pendingDeltas = undefined
    if (this.head > 1024 && this.head * 2 > this.buffer.length) {
      this.buffer = this.buffer.slice(this.head)
      this.head = 0
    }
    return Chunk.unsafeFromArray(taken)
  }

  /**
   * Takes up to `max` waiting entries, suspending while there is none; an
   * empty chunk means the mailbox is closed.
   */
  take(max: number): Effect.Effect<Chunk.Chunk<Event.Event>> {
    return Effect.suspend(() => {
      if (this.backlog > 0) return Effect.succeed(this.drain(max))
      if (this.closed) return Effect.succeed(Chunk.empty())
      // No canceler: with one, `Effect.async` adds an interrupt handler (three stack frames and
      // their closures) to every idle reader. An interrupted reader's callback is spent by the
      // interruption, so a waiter left behind is a no-op when woken, and the next `take` replaces it.
      return Effect.async<Chunk.Chunk<Event.Event>>((resume) => {
        this.waiter = () => resume(Effect.sync(() => this.drain(max)))
      })
    })
  }
}

const deltaKey = (delta: Event.Delta): string => {
  switch (delta._tag) {
    case "TextDelta":
    case "RefusalDelta":
    case "ReasoningDelta":
      return `${delta._tag}:${delta.contentIndex}`
    case "ReasoningSummaryDelta":
      return `${delta._tag}:${delta.summaryIndex}`
    case "FunctionCallArgumentsDelta":
      return delta._tag
  }
}

/**
 * The pending delta with the next one's text appended: built by prototype
 * (what the class constructor builds with validation off, the same own fields
 * in the same order), as the environment builds what it publishes — texts it
 * already holds need no validation.
 */
const mergeDelta = (previous: Event.Event, next: Event.Delta): Event.Event => {
  const payload = previous.payload as Event.Delta
  const merged = Object.assign(Object.create(Object.getPrototypeOf(payload) as object) as Event.Delta, payload)
  ;(merged as { delta: string }).delta = payload.delta + next.delta
  return Event.unsafeMake({ sequence: previous.sequence, author: previous.author, timestamp: previous.timestamp, payload: merged })
}
