/**
 * Participants: agents, humans and observers, each an effect that consumes
 * its inbox — the stream of the environment's events from the moment it
 * joined.
 *
 * @since 0.1.0
 */
import { Effect, Stream } from "effect"
import type * as Event from "./Event.js"
import type * as Journal from "./Journal.js"

/** The events a participant receives, in publication order. */
export type Inbox = Stream.Stream<Event.Event, Journal.JournalError | Journal.JournalCorrupted>

/** A participant. */
export interface Participant<E = never, R = never> {
  readonly id: string
  readonly kind: Event.ParticipantKind
  /** Which events reach the inbox (all when absent); applied when they are published. */
  readonly accepts?: ((event: Event.Event) => boolean) | undefined
  readonly run: (inbox: Inbox) => Effect.Effect<void, E, R>
}

/** Makes a participant. */
export const make = <E = never, R = never>(options: Participant<E, R>): Participant<E, R> => options

/**
 * An observer: calls `onEvent` for every event it accepts, in order.
 *
 * @example
 * import { Effect } from "effect"
 * import { Participant } from "@chorus/core"
 *
 * const logger = Participant.observer("logger", (event) => Effect.log(event.payload._tag))
 */
export const observer = <E = never, R = never>(
  id: string,
  onEvent: (event: Event.Event) => Effect.Effect<void, E, R>,
  options?: { readonly accepts?: ((event: Event.Event) => boolean) | undefined }
): Participant<E | Journal.JournalError | Journal.JournalCorrupted, R> => ({
  id,
  kind: "observer",
  accepts: options?.accepts,
  run: (inbox) => Stream.runForEach(inbox, onEvent)
})
