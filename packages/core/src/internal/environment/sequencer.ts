/**
 * The sequencer: stamps payloads with the next sequence, their author and a
 * `Clock` timestamp that never goes back (a clock set back keeps the last
 * timestamp until it catches up).
 *
 * @internal
 */
import type { Clock } from "effect"
import * as Event from "../../Event.js"

export interface Sequencer {
  readonly stamp: (author: string, payload: Event.Payload) => Event.Event
  /** The sequence of the last event stamped, or -1. */
  readonly last: () => number
}

export const make = (clock: Clock.Clock, last: number): Sequencer => {
  let next = last + 1
  let lastTimestamp = 0
  return {
    stamp: (author, payload) => {
      const now = clock.unsafeCurrentTimeMillis()
      if (now > lastTimestamp) lastTimestamp = now
      return Event.unsafeMake({ sequence: next++, author, timestamp: lastTimestamp, payload })
    },
    last: () => next - 1
  }
}
