/**
 * The environment: one event log shared by every participant, published to
 * every subscriber as it happens.
 *
 * ## Publishing
 * `publish` stamps a payload with the next `sequence`, its author and a
 * timestamp from `Clock`, hands it to every subscriber's mailbox and to the
 * journal writer, all in one synchronous step: sequence order, journal order
 * and delivery order are the same. Publishing never waits for a subscriber or
 * for the journal; {@link Service.flush} waits until what was published is
 * written (an agent flushes before a side effect that must not run twice).
 *
 * ## Backpressure
 * Every subscriber has its own mailbox. A subscriber that stops reading
 * neither stalls the publisher nor the other subscribers (nobody waits for
 * it), never loses an item-level event (only deltas are touched), and does not
 * grow memory with the number of deltas: once its backlog passes
 * `coalesceAfter` entries, each new delta is merged into the pending delta of
 * the same item, kind and index. Its backlog then grows with the number of
 * items and non-delta events only, and the text it eventually reads is the
 * same text.
 *
 * ## Participants
 * `join` creates the participant's subscription first, then forks it into a
 * `FiberMap` under the environment's scope, so an event published after
 * `join` returns always reaches it. `join` returns once the participant has
 * started (it waits for something, or has ended); one that fails before that
 * makes `join` fail with {@link ParticipantStartFailed}. A later failure is
 * published with its cause and isolated; a restart `Schedule` may restart the
 * participant on the same inbox. `leave` and closing the scope interrupt
 * fibers and run their finalizers. Join and leave are O(1).
 *
 * ## The journal
 * A writer appends what is published in batches. An outage is retried on a
 * capped schedule, in order, and caught up when the journal is back; past
 * `degradedAfter` the environment publishes `JournalDegraded` and `flush`
 * fails fast until `JournalRecovered` (see `internal/environment/journalWriter.ts`
 * for the whole policy). While it is degraded, reads of history take what is
 * not durable yet from the writer's memory, so they keep working. The
 * in-memory journal is appended to in the publish step itself.
 *
 * ## Derived state
 * {@link Service.projection} keeps a reducer's state current on every
 * publish: the first call replays the journal once, later reads are O(1).
 * A reducer that declares its `kinds` is replayed from those kinds only: the
 * journal decodes nothing else.
 *
 * Internals, one module each under `internal/environment/`: the sequencer,
 * the journal writer, the fan-out, the supervisor and the projections.
 *
 * @since 0.1.0
 */
import { Cause, Chunk, Context, Effect, Layer, Option, Schedule, Schema, Scope, Stream, SubscriptionRef } from "effect"
import * as Event from "./Event.js"
import * as FanOut from "./internal/environment/fanOut.js"
import * as JournalWriter from "./internal/environment/journalWriter.js"
import * as Projections from "./internal/environment/projections.js"
import * as Sequencer from "./internal/environment/sequencer.js"
import * as Subscriptions from "./internal/environment/subscriptions.js"
import * as Supervisor from "./internal/environment/supervisor.js"
import * as Journal from "./Journal.js"
import type * as Participant from "./Participant.js"
import type * as Reducer from "./Reducer.js"

/** A participant with this id is already in the environment. */
export class ParticipantAlreadyJoined extends Schema.TaggedError<ParticipantAlreadyJoined>()(
  "ParticipantAlreadyJoined",
  { participant: Schema.String }
) {
  override get message() {
    return `a participant "${this.participant}" is already in the environment`
  }
}

/** A participant failed before it started (`join` waited for it): it was not kept. */
export class ParticipantStartFailed extends Schema.TaggedError<ParticipantStartFailed>()(
  "ParticipantStartFailed",
  { participant: Schema.String, cause: Schema.String }
) {
  override get message() {
    return `participant "${this.participant}" failed as it started: ${this.cause}`
  }
}

/**
 * What `waitFor` waits on can no longer happen: the environment closed
 * (`closed`), or the participant it waits on left or failed for good
 * (`participant_left`, `participant_failed`), or was not in the environment
 * (`not_a_member`).
 */
export class WaitAbandoned extends Schema.TaggedError<WaitAbandoned>()("WaitAbandoned", {
  reason: Schema.Literal("closed", "participant_left", "participant_failed", "not_a_member"),
  participant: Schema.NullOr(Schema.String)
}) {
  override get message() {
    switch (this.reason) {
      case "closed":
        return "the environment closed before the awaited event"
      case "not_a_member":
        return `participant "${this.participant}" is not in the environment: the awaited event cannot come`
      default:
        return `participant "${this.participant}" ${this.reason === "participant_left" ? "left" : "failed"} before the awaited event`
    }
  }
}

/** Options of `waitFor`. */
export interface WaitForOptions {
  /** Look at events from this sequence (replayed from the journal), default: from now on. */
  readonly from?: number | undefined
  /**
   * The participant expected to cause the event: the wait fails with
   * {@link WaitAbandoned} when it leaves or fails for good first (a failure
   * followed by a restart does not count), or is not a member when the wait
   * starts and the history holds no match.
   */
  readonly participant?: string | undefined
}

/** Options of a subscription. */
export interface SubscribeOptions {
  /** Replay the journal from this sequence, then continue live, with no gap and no duplicate. */
  readonly from?: number | undefined
  /** Which live events reach the subscription (all when absent). */
  readonly accepts?: ((event: Event.Event) => boolean) | undefined
  /**
   * Only events of these kinds (then `accepts`); indexed, so other kinds cost
   * the subscription nothing, and the history replayed `from` a sequence is
   * read from the journal by kind (nothing else decoded).
   */
  readonly kinds?: ReadonlyArray<Event.Payload["_tag"]> | undefined
}

/** A subscription: its stream, and how far behind it is. */
export interface Subscription {
  readonly stream: Stream.Stream<Event.Event, Journal.JournalError | Journal.JournalCorrupted>
  /** Entries waiting to be read. */
  readonly backlog: Effect.Effect<number>
  /** Deltas merged into earlier ones because the subscriber was behind. */
  readonly coalesced: Effect.Effect<number>
}

/** Options of `join`. */
export interface JoinOptions {
  /** Restart the participant after a failure, on this schedule (fed the failure's cause). */
  readonly restart?: Schedule.Schedule<unknown, Cause.Cause<unknown>> | undefined
}

/** Who is in the environment. */
export interface Member {
  readonly id: string
  readonly kind: Event.ParticipantKind
}

/** The environment service. */
export interface Service {
  /** Stamps and publishes a payload. */
  readonly publish: (author: string, payload: Event.Payload) => Effect.Effect<Event.Event>
  /** Stamps and publishes payloads as one contiguous run of sequence numbers. */
  readonly publishAll: (author: string, payloads: Iterable<Event.Payload>) => Effect.Effect<ReadonlyArray<Event.Event>>
  /** Subscribes now; the subscription lives until the scope closes. */
  readonly subscribe: (options?: SubscribeOptions) => Effect.Effect<Subscription, never, Scope.Scope>
  /** Adds a participant; its inbox starts with the events published after this call. */
  readonly join: <E, R>(
    participant: Participant.Participant<E, R>,
    options?: JoinOptions
  ) => Effect.Effect<void, ParticipantAlreadyJoined | ParticipantStartFailed, R>
  /** Removes a participant: interrupts it and waits for its finalizers. */
  readonly leave: (id: string) => Effect.Effect<void>
  /** Asks a participant to stop its current run (or the named one). */
  readonly interrupt: (options: {
    readonly participant: string
    readonly runId?: string | undefined
    readonly by?: string | undefined
  }) => Effect.Effect<Event.Event>
  /** Waits until everything published so far is in the journal. */
  readonly flush: Effect.Effect<void, Journal.JournalError>
  /** The sequence of the last event published, or -1. */
  readonly lastSequence: Effect.Effect<number>
  /** The participants in the environment now. */
  readonly members: Effect.Effect<ReadonlyArray<Member>>
  /**
   * A reducer's state over everything published so far, kept live: the first
   * call registers the reducer and replays the journal once; every publish
   * then folds into it, and reading is O(1).
   */
  readonly projection: <S>(reducer: Reducer.Reducer<S>) => Effect.Effect<S, Journal.JournalError | Journal.JournalCorrupted>
  /** A reducer's state over everything published so far (its projection when registered, else a journal replay). */
  readonly snapshot: <S>(
    reducer: Reducer.Reducer<S>
  ) => Effect.Effect<S, Journal.JournalError | Journal.JournalCorrupted>
  /** A reducer's state kept live: replays the journal, then follows new events, until the scope closes. */
  readonly state: <S>(reducer: Reducer.Reducer<S>) => Effect.Effect<SubscriptionRef.SubscriptionRef<S>, never, Scope.Scope>
  /**
   * The first event (from `from`, default 0) matching the predicate, waiting
   * for it if needed; fails with {@link WaitAbandoned} when it can no longer
   * come (see {@link WaitForOptions}).
   */
  readonly waitFor: <A extends Event.Event>(
    predicate: ((event: Event.Event) => event is A) | ((event: Event.Event) => boolean),
    options?: WaitForOptions
  ) => Effect.Effect<A, Journal.JournalError | Journal.JournalCorrupted | WaitAbandoned>
}

/** The environment tag. */
export class Environment extends Context.Tag("@chorus/core/Environment")<Environment, Service>() {}

/** Options of the environment. */
export interface Options {
  /** Backlog (entries) past which a lagging subscriber's deltas are coalesced. Default 4096. */
  readonly coalesceAfter?: number | undefined
  /**
   * Delays between attempts of a failed journal append. Default: exponential
   * from 100 ms, capped at 5 s, never ending. When a schedule ends the journal
   * is declared degraded (`flush` fails fast) and the writer goes on retrying
   * every 5 s: it never drops what was published.
   */
  readonly appendRetry?: Schedule.Schedule<unknown, Journal.JournalError> | undefined
  /** When a failing journal is declared degraded (flush fails fast). Default: 1,000 unwritten events or 2 seconds. */
  readonly degradedAfter?: JournalWriter.DegradedAfter | undefined
}

/** The author of the events the environment itself publishes. */
export const author = "environment"

/**
 * Builds an environment on the journal in context; it closes with the scope.
 *
 * @example
 * import { Effect } from "effect"
 * import { Environment, Event, Journal, Participant } from "@chorus/core"
 *
 * const program = Effect.gen(function*() {
 *   const env = yield* Environment.Environment
 *   yield* env.join(Participant.observer("log", (event) => Effect.log(Event.wireName(event.payload))))
 *   yield* env.publish("me", new Event.InterruptRequested({ participant: "nobody", runId: null }))
 * }).pipe(Effect.provide(Environment.layer()), Effect.provide(Journal.layerMemory), Effect.scoped)
 */
export const make = (
  options?: Options
): Effect.Effect<Service, Journal.JournalError | Journal.JournalCorrupted, Journal.Journal | Scope.Scope> =>
  Effect.gen(function*() {
    const journal = yield* Journal.Journal
    const clock = yield* Effect.clock
    const sequencer = Sequencer.make(clock, yield* journal.lastSequence)
    const fanOut = FanOut.make(options?.coalesceAfter ?? 4096)

    // The writer announces its own events (degraded, recovered) through `publishNow`, defined below.
    const writer = yield* JournalWriter.make({
      journal,
      persisted: sequencer.last(),
      clock,
      announce: (payload) => void publishNow(author, payload),
      writer: { retry: options?.appendRetry, degradedAfter: options?.degradedAfter }
    })

    const { history, live, subscribe } = Subscriptions.make({ journal, writer, fanOut, last: sequencer.last })

    const projections = Projections.make({ last: sequencer.last, history: (to, kinds) => history(0, to, kinds) })

    // --- publishing: one synchronous step, so sequence, delivery and journal order are the same ---
    const publishNow = (author: string, payload: Event.Payload): Event.Event => {
      const event = sequencer.stamp(author, payload)
      projections.apply(event)
      fanOut.deliver(event)
      writer.offerOne(event)
      return event
    }
    const publish = (author: string, payload: Event.Payload) => Effect.sync(() => publishNow(author, payload))
    const publishAll = (author: string, payloads: Iterable<Event.Payload>) =>
      Effect.sync(() => {
        const events: Array<Event.Event> = []
        for (const payload of payloads) {
          const event = sequencer.stamp(author, payload)
          projections.apply(event)
          fanOut.deliver(event)
          events.push(event)
        }
        writer.offer(events)
        return events
      })

    // Closing: participants first (the supervisor's FiberMap, made after this finalizer, is closed before it
    // runs), then the last events are flushed (the writer, made before, still runs), then the mailboxes close.
    yield* Effect.addFinalizer(() =>
      Effect.gen(function*() {
        yield* Effect.ignore(writer.flushUpTo(sequencer.last()))
        fanOut.closeAll()
      })
    )

    const supervisor = yield* Supervisor.make({
      publish: publishNow,
      fanOut,
      last: sequencer.last,
      history,
      live,
      projections
    })

    const join: Service["join"] = (participant, joinOptions) =>
      Effect.mapError(supervisor.join(participant, joinOptions), (error) =>
        error._tag === "AlreadyJoined"
          ? new ParticipantAlreadyJoined({ participant: error.participant })
          : new ParticipantStartFailed({ participant: error.participant, cause: Cause.pretty(error.cause) }))

    const interrupt: Service["interrupt"] = (interruptOptions) =>
      publish(
        interruptOptions.by ?? author,
        new Event.InterruptRequested({ participant: interruptOptions.participant, runId: interruptOptions.runId ?? null })
      )

    // --- derived state ------------------------------------------------------
    const snapshot = <S>(reducer: Reducer.Reducer<S>) =>
      Effect.suspend(() => {
        const current = projections.current(reducer)
        if (current !== undefined) return Effect.succeed(current.state)
        const last = sequencer.last()
        return last < 0 ? Effect.succeed(reducer.initial) : Stream.runFold(history(0, last, reducer.kinds), reducer.initial, reducer.reduce)
      })

    const state = <S>(reducer: Reducer.Reducer<S>) =>
      Effect.gen(function*() {
        const subscription = yield* subscribe({ from: 0 })
        const ref = yield* SubscriptionRef.make(reducer.initial)
        yield* subscription.stream.pipe(
          Stream.runForEachChunk((chunk) => SubscriptionRef.update(ref, (state) => Chunk.reduce(chunk, state, reducer.reduce))),
          Effect.catchAllCause((cause) => Effect.logError("environment: a derived state stopped", cause)),
          Effect.forkScoped
        )
        return ref
      })

    const waitFor: Service["waitFor"] = (predicate, waitOptions) =>
      Effect.scoped(
        Effect.gen(function*() {
          const watched = waitOptions?.participant
          const memberNow = watched === undefined || supervisor.isMember(watched)
          const last = sequencer.last()
          const from = waitOptions?.from ?? 0
          if (!memberNow && from > last) return yield* new WaitAbandoned({ reason: "not_a_member", participant: watched ?? null })
          const subscription = yield* subscribe({ from })
          let abandoned: WaitAbandoned | undefined = undefined
          const found = yield* subscription.stream.pipe(
            Stream.filter((event) => {
              if (predicate(event)) return true
              if (watched === undefined) return false
              if (!memberNow && event.sequence >= last) {
                abandoned = new WaitAbandoned({ reason: "not_a_member", participant: watched })
                return true
              }
              const payload = event.payload
              if (
                (payload._tag === "ParticipantLeft" || payload._tag === "ParticipantFailed") &&
                payload.participant === watched && !supervisor.isMember(watched)
              ) {
                abandoned = new WaitAbandoned({
                  reason: payload._tag === "ParticipantLeft" ? "participant_left" : "participant_failed",
                  participant: watched
                })
                return true
              }
              return false
            }),
            Stream.runHead
          )
          if (abandoned !== undefined) return yield* Effect.fail(abandoned)
          if (Option.isNone(found)) return yield* new WaitAbandoned({ reason: "closed", participant: null })
          return found.value as never
        })
      )

    for (const repair of journal.repairs) {
      publishNow(author, new Event.JournalRepaired({ line: repair.line, bytes: repair.bytes }))
    }

    return {
      publish,
      publishAll,
      subscribe,
      join,
      leave: supervisor.leave,
      interrupt,
      flush: Effect.suspend(() => writer.flushUpTo(sequencer.last())),
      lastSequence: Effect.sync(sequencer.last),
      members: Effect.sync(supervisor.members),
      projection: projections.get,
      snapshot,
      state,
      waitFor
    } satisfies Service
  })

/** The environment as a layer, on the journal in context. */
export const layer = (options?: Options): Layer.Layer<Environment, Journal.JournalError | Journal.JournalCorrupted, Journal.Journal> =>
  Layer.scoped(Environment, make(options))

/** An environment on an in-memory journal. */
export const layerMemory = (options?: Options): Layer.Layer<Environment> =>
  layer(options).pipe(Layer.provide(Journal.layerMemory), Layer.orDie)
