/**
 * Participants: agents, humans and observers, each an effect that consumes
 * its inbox — the stream of the environment's events from the moment it
 * joined.
 *
 * @since 0.1.0
 */
import type { Chunk } from "effect"
import { Effect, Stream } from "effect"
import type * as Event from "./Event.js"
import type * as Journal from "./Journal.js"

/** The events a participant receives, in publication order. */
export type Inbox = Stream.Stream<Event.Event, Journal.JournalError | Journal.JournalCorrupted>

/** What a participant learns when it starts. */
export interface Start {
  /**
   * With `replay` (or `from`), the inbox first delivers the journal's history:
   * every event with `from <= sequence <= history` (unfiltered), then live
   * events. `-1` when there is no history to replay.
   */
  readonly history: number
  /**
   * Whether the participant is being removed by `leave` (rather than stopped with its environment):
   * read it when interrupted, to close what a departure must close and keep what a restart resumes.
   */
  readonly leaving?: Effect.Effect<boolean> | undefined
}

/**
 * A participant's mailbox, read directly by {@link Participant.serve}: no
 * `Stream` per participant, so a member that waits holds its state and this.
 */
export interface Mailbox {
  /**
   * The journal's history the participant asked for (`replay` / `from`), to
   * read before `take`; undefined when there is none. With `replayTaken` it
   * may hold only the events the participant takes live.
   */
  readonly history: Inbox | undefined
  /** The next live events in publication order, waiting for at least one; an empty chunk once the mailbox is closed. */
  readonly take: Effect.Effect<Chunk.Chunk<Event.Event>>
}

/** A participant. */
export interface Participant<E = never, R = never> {
  readonly id: string
  readonly kind: Event.ParticipantKind
  /** Which live events reach the inbox (all when absent); applied when they are published. */
  readonly accepts?: ((event: Event.Event) => boolean) | undefined
  /**
   * Only live events of these kinds reach the inbox (then `accepts` applies).
   * Indexed by kind: events of other kinds cost this participant nothing when
   * published, so many narrow participants keep publishing (and joining and
   * leaving) O(1).
   */
  readonly kinds?: ReadonlyArray<Event.Payload["_tag"]> | undefined
  /**
   * With `kinds`: live events of these kinds reach the inbox only when
   * addressed to this participant (their `participant` field is its id),
   * indexed by kind and addressee: another member's join, leave or run
   * events cost this participant nothing.
   */
  readonly addressed?: ReadonlyArray<Event.Payload["_tag"]> | undefined
  /** Replay the journal's history into the inbox before live events (to resume after a restart); same as `from: 0`. */
  readonly replay?: boolean | undefined
  /**
   * With `replay`: the participant folds only the events it would take live
   * (its `kinds`, `addressed` and `accepts`) and those it published itself,
   * so an environment may replay only those, from the first one its index
   * of the journal knows — nothing when the journal holds none (a
   * participant new to it joins in O(1)). An environment that does not
   * index replays everything, as with `replay`.
   */
  readonly replayTaken?: boolean | undefined
  /**
   * Replay the journal from this sequence, then live events: no gap, no
   * duplicate (a late observer asking for history). `Start.history` is then
   * the last replayed sequence.
   */
  readonly from?: number | undefined
  readonly run: (inbox: Inbox, start: Start) => Effect.Effect<void, E, R>
  /**
   * Handles the inbox one event at a time; equivalent to `run` being
   * `Stream.runForEach(inbox, onEvent)`. An environment may then read the
   * inbox in a plain loop instead of running a `Stream` per participant
   * (a fiber of a few KiB instead of ~25 KiB: what makes many narrow members
   * cheap). `run` must still do the same, for environments that use it.
   */
  readonly onEvent?: ((event: Event.Event) => Effect.Effect<void, E, R>) | undefined
  /**
   * Reads the mailbox directly: equivalent to `run` on the inbox stream made
   * of `mailbox.history` then the live events. An environment may call it
   * instead of `run` (no Stream pipeline per participant: what makes an
   * idle agent cheap); `run` must still do the same, for environments that
   * use it.
   */
  readonly serve?: ((mailbox: Mailbox, start: Start) => Effect.Effect<void, E, R>) | undefined
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
  options?: {
    readonly accepts?: ((event: Event.Event) => boolean) | undefined
    /** Start with the history from this sequence (replayed unfiltered), then live events. */
    readonly from?: number | undefined
    /** Only live events of these kinds (then `accepts`); see {@link Participant.kinds}. */
    readonly kinds?: ReadonlyArray<Event.Payload["_tag"]> | undefined
  }
): Participant<E | Journal.JournalError | Journal.JournalCorrupted, R> => ({
  id,
  kind: "observer",
  accepts: options?.accepts,
  from: options?.from,
  kinds: options?.kinds,
  run: (inbox) => Stream.runForEach(inbox, onEvent),
  onEvent
})
