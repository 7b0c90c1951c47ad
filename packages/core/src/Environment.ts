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
 * `join` returns always reaches it. A failure is published with its cause and
 * isolated; a restart `Schedule` may restart the participant on the same inbox.
 * `leave` and closing the scope interrupt fibers and run their finalizers.
 *
 * @since 0.1.0
 */
import {
  Cause,
  Chunk,
  Context,
  Deferred,
  Effect,
  Either,
  Exit,
  FiberMap,
  Layer,
  Option,
  Schedule,
  Schema,
  Scope,
  Stream,
  SubscriptionRef
} from "effect"
import * as Event from "./Event.js"
import { Mailbox } from "./internal/mailbox.js"
import * as Journal from "./Journal.js"
import type * as Participant from "./Participant.js"
import * as Reducer from "./Reducer.js"

/** A participant with this id is already in the environment. */
export class ParticipantAlreadyJoined extends Schema.TaggedError<ParticipantAlreadyJoined>()(
  "ParticipantAlreadyJoined",
  { participant: Schema.String }
) {
  override get message() {
    return `a participant "${this.participant}" is already in the environment`
  }
}

/** Options of a subscription. */
export interface SubscribeOptions {
  /** Replay the journal from this sequence, then continue live, with no gap and no duplicate. */
  readonly from?: number | undefined
  /** Which live events reach the subscription (all when absent). */
  readonly accepts?: ((event: Event.Event) => boolean) | undefined
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
  ) => Effect.Effect<void, ParticipantAlreadyJoined, R>
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
  /** A reducer's state over everything published so far (journal replay). */
  readonly snapshot: <S>(
    reducer: Reducer.Reducer<S>
  ) => Effect.Effect<S, Journal.JournalError | Journal.JournalCorrupted>
  /** A reducer's state kept live: replays the journal, then follows new events, until the scope closes. */
  readonly state: <S>(reducer: Reducer.Reducer<S>) => Effect.Effect<SubscriptionRef.SubscriptionRef<S>, never, Scope.Scope>
  /** The first event (from `from`, default 0) matching the predicate, waiting for it if needed. */
  readonly waitFor: <A extends Event.Event>(
    predicate: ((event: Event.Event) => event is A) | ((event: Event.Event) => boolean),
    options?: { readonly from?: number | undefined }
  ) => Effect.Effect<A, Journal.JournalError | Journal.JournalCorrupted>
}

/** The environment tag. */
export class Environment extends Context.Tag("@chorus/core/Environment")<Environment, Service>() {}

/** Options of the environment. */
export interface Options {
  /** Backlog (entries) past which a lagging subscriber's deltas are coalesced. Default 4096. */
  readonly coalesceAfter?: number | undefined
  /** How a failed journal append is retried before the journal is declared broken. Default: 5 times, exponential from 100 ms. */
  readonly appendRetry?: Schedule.Schedule<unknown, Journal.JournalError> | undefined
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
export const make = (options?: Options): Effect.Effect<Service, Journal.JournalError | Journal.JournalCorrupted, Journal.Journal | Scope.Scope> =>
  Effect.gen(function*() {
    const journal = yield* Journal.Journal
    const clock = yield* Effect.clock
    const scope = yield* Effect.scope
    const coalesceAfter = options?.coalesceAfter ?? 4096

    let nextSequence = (yield* journal.lastSequence) + 1
    let lastTimestamp = 0
    const mailboxes = new Set<Mailbox>()
    const members = new Map<string, { readonly kind: Event.ParticipantKind; readonly mailbox: Mailbox }>()

    // --- journal writer -----------------------------------------------------
    const appendRetry = options?.appendRetry ?? Schedule.exponential("100 millis").pipe(Schedule.intersect(Schedule.recurs(5)))
    let pending: Array<Event.Event> = []
    let persisted = nextSequence - 1
    let writerFailure: Journal.JournalError | undefined = undefined
    let wakeWriter: (() => void) | undefined = undefined
    let flushWaiters: Array<{ readonly sequence: number; readonly deferred: Deferred.Deferred<void, Journal.JournalError> }> = []

    const settleFlushes = Effect.suspend(() => {
      const ready = flushWaiters.filter((waiter) => waiter.sequence <= persisted || writerFailure !== undefined)
      if (ready.length === 0) return Effect.void
      flushWaiters = flushWaiters.filter((waiter) => !ready.includes(waiter))
      return Effect.forEach(ready, (waiter) =>
        writerFailure === undefined
          ? Deferred.succeed(waiter.deferred, undefined)
          : Deferred.fail(waiter.deferred, writerFailure), { discard: true })
    })

    const nextBatch = Effect.async<ReadonlyArray<Event.Event>>((resume) => {
      const take = () => {
        const batch = pending
        pending = []
        resume(Effect.succeed(batch))
      }
      if (pending.length > 0) take()
      else wakeWriter = take
      return Effect.sync(() => {
        wakeWriter = undefined
      })
    })

    const writer = Effect.gen(function*() {
      while (true) {
        const batch = yield* nextBatch
        // A failed append is retried (a full disk may be freed, a locked database unlocked) before the journal is
        // declared broken: then `flush` fails with the error and it is logged.
        const written = yield* Effect.either(journal.append(batch).pipe(Effect.retry(appendRetry)))
        if (Either.isLeft(written)) {
          writerFailure = written.left
          yield* Effect.logError("environment: the journal could not be written", written.left)
          yield* settleFlushes
          return
        }
        persisted = batch[batch.length - 1]!.sequence
        yield* settleFlushes
      }
    })
    yield* Effect.forkIn(writer, scope)

    const flushUpTo = (sequence: number): Effect.Effect<void, Journal.JournalError> =>
      Effect.suspend(() => {
        if (writerFailure !== undefined) return Effect.fail(writerFailure)
        if (sequence <= persisted) return Effect.void
        return Effect.flatMap(Deferred.make<void, Journal.JournalError>(), (deferred) => {
          flushWaiters.push({ sequence, deferred })
          return Deferred.await(deferred)
        })
      })

    // --- publishing ---------------------------------------------------------
    const stamp = (author: string, payload: Event.Payload): Event.Event => {
      const now = clock.unsafeCurrentTimeMillis()
      if (now > lastTimestamp) lastTimestamp = now
      const event = Event.unsafeMake({ sequence: nextSequence++, author, timestamp: lastTimestamp, payload })
      pending.push(event)
      for (const mailbox of mailboxes) mailbox.offer(event)
      return event
    }

    const publishAll = (author: string, payloads: Iterable<Event.Payload>) =>
      Effect.sync(() => {
        const events: Array<Event.Event> = []
        for (const payload of payloads) events.push(stamp(author, payload))
        const wake = wakeWriter
        if (wake !== undefined && events.length > 0) {
          wakeWriter = undefined
          wake()
        }
        return events
      })

    const publish = (author: string, payload: Event.Payload) =>
      Effect.sync(() => {
        const event = stamp(author, payload)
        const wake = wakeWriter
        if (wake !== undefined) {
          wakeWriter = undefined
          wake()
        }
        return event
      })

    // --- subscriptions ------------------------------------------------------
    const openMailbox = (accepts: ((event: Event.Event) => boolean) | undefined) => {
      const mailbox = new Mailbox(coalesceAfter, accepts)
      mailboxes.add(mailbox)
      return mailbox
    }
    const closeMailbox = (mailbox: Mailbox) => {
      mailboxes.delete(mailbox)
      mailbox.close()
    }

    // `max` is 1 for participants that may restart: an event is taken only when the previous one was
    // handled, so a failure loses nothing but the event being handled.
    const liveStream = (mailbox: Mailbox, max = Number.POSITIVE_INFINITY) =>
      Stream.repeatEffectChunkOption(
        Effect.flatMap(mailbox.take(max), (chunk) => Chunk.isEmpty(chunk) ? Effect.fail(Option.none()) : Effect.succeed(chunk))
      )

    // Registers the live mailbox and notes the last sequence in one synchronous step:
    // replay covers [from, last], live covers (last, ...): no gap, no duplicate.
    const openSubscription = (options: SubscribeOptions | undefined) => {
      const last = nextSequence - 1
      const mailbox = openMailbox(options?.accepts)
      const from = options?.from
      const live = liveStream(mailbox)
      const stream: Subscription["stream"] = from === undefined || from > last
        ? live
        : Stream.concat(
          Stream.unwrap(Effect.as(flushUpTo(last), journal.read({ from, to: last }))).pipe(
            options?.accepts === undefined ? (s) => s : Stream.filter(options.accepts)
          ),
          live
        )
      return {
        mailbox,
        subscription: {
          stream,
          backlog: Effect.sync(() => mailbox.backlog),
          coalesced: Effect.sync(() => mailbox.coalesced)
        } satisfies Subscription
      }
    }

    const subscribe = (options?: SubscribeOptions) =>
      Effect.acquireRelease(
        Effect.sync(() => openSubscription(options)),
        ({ mailbox }) => Effect.sync(() => closeMailbox(mailbox))
      ).pipe(Effect.map(({ subscription }) => subscription))

    // --- participants -------------------------------------------------------
    // Closing: participants first (the FiberMap, made after this finalizer, is closed before it runs),
    // then the last events are flushed, then the mailboxes close.
    yield* Effect.addFinalizer(() =>
      Effect.gen(function*() {
        yield* Effect.ignore(flushUpTo(nextSequence - 1))
        for (const mailbox of mailboxes) mailbox.close()
        mailboxes.clear()
      })
    )

    const fibers = yield* FiberMap.make<string>()
    // Participants being removed by `leave` (not stopped with the environment): they may tell the difference.
    const leaving = new Set<string>()

    const supervise = <E, R>(
      participant: Participant.Participant<E, R>,
      inbox: Participant.Inbox,
      start: Participant.Start,
      restart: JoinOptions["restart"]
    ): Effect.Effect<void, never, R> =>
      Effect.gen(function*() {
        const driver = restart === undefined ? undefined : yield* Schedule.driver(restart)
        let attempt = 0
        while (true) {
          const exit = yield* Effect.exit(participant.run(inbox, start))
          if (Exit.isSuccess(exit)) {
            yield* publish(author, new Event.ParticipantLeft({ participant: participant.id }))
            return
          }
          if (Cause.isInterruptedOnly(exit.cause)) return yield* Effect.interrupt
          yield* publish(author, new Event.ParticipantFailed({ participant: participant.id, cause: Cause.pretty(exit.cause) }))
          if (driver === undefined) return
          const next = yield* Effect.either(driver.next(exit.cause))
          if (Either.isLeft(next)) return
          attempt++
          yield* publish(author, new Event.ParticipantRestarted({ participant: participant.id, attempt }))
        }
      })

    const removeMember = (id: string) =>
      Effect.sync(() => {
        const member = members.get(id)
        if (member !== undefined) {
          members.delete(id)
          closeMailbox(member.mailbox)
        }
      })

    const join = <E, R>(participant: Participant.Participant<E, R>, options?: JoinOptions) =>
      Effect.gen(function*() {
        if (members.has(participant.id)) {
          return yield* new ParticipantAlreadyJoined({ participant: participant.id })
        }
        // Registered in one synchronous step with reading the history bound: no gap, no duplicate.
        const history = participant.replay === true ? nextSequence - 1 : -1
        const mailbox = openMailbox(participant.accepts)
        members.set(participant.id, { kind: participant.kind, mailbox })
        yield* publish(author, new Event.ParticipantJoined({ participant: participant.id, kind: participant.kind }))
        const live = liveStream(mailbox, options?.restart === undefined ? Number.POSITIVE_INFINITY : 1)
        const inbox: Participant.Inbox = history < 0
          ? live
          : Stream.concat(Stream.unwrap(Effect.as(flushUpTo(history), journal.read({ from: 0, to: history }))), live)
        yield* FiberMap.run(
          fibers,
          participant.id,
          supervise(participant, inbox, { history, leaving: Effect.sync(() => leaving.has(participant.id)) }, options?.restart).pipe(
            Effect.ensuring(Effect.suspend(() => members.get(participant.id)?.mailbox === mailbox ? removeMember(participant.id) : Effect.void))
          )
        )
      })

    const leave = (id: string) =>
      Effect.gen(function*() {
        if (!members.has(id)) return
        leaving.add(id)
        yield* Effect.ensuring(FiberMap.remove(fibers, id), Effect.sync(() => leaving.delete(id)))
        yield* removeMember(id)
        yield* publish(author, new Event.ParticipantLeft({ participant: id }))
      })

    const interrupt: Service["interrupt"] = (options) =>
      publish(
        options.by ?? author,
        new Event.InterruptRequested({ participant: options.participant, runId: options.runId ?? null })
      )

    // --- derived state ------------------------------------------------------
    const snapshot = <S>(reducer: Reducer.Reducer<S>) =>
      Effect.suspend(() => {
        const last = nextSequence - 1
        return flushUpTo(last).pipe(
          Effect.zipRight(
            Stream.runFold(journal.read({ from: 0, to: last }), reducer.initial, reducer.reduce)
          )
        )
      })

    const state = <S>(reducer: Reducer.Reducer<S>) =>
      Effect.gen(function*() {
        const subscription = yield* subscribe({ from: 0 })
        const ref = yield* SubscriptionRef.make(reducer.initial)
        yield* subscription.stream.pipe(
          Stream.runForEachChunk((chunk) =>
            SubscriptionRef.update(ref, (state) => Chunk.reduce(chunk, state, reducer.reduce))
          ),
          Effect.catchAllCause((cause) => Effect.logError("environment: a derived state stopped", cause)),
          Effect.forkScoped
        )
        return ref
      })

    const waitFor: Service["waitFor"] = (predicate, options) =>
      Effect.scoped(
        Effect.gen(function*() {
          const subscription = yield* subscribe({ from: options?.from ?? 0 })
          const found = yield* subscription.stream.pipe(Stream.filter(predicate), Stream.runHead)
          if (Option.isNone(found)) return yield* Effect.die(new Error("environment closed while waiting for an event"))
          return found.value as never
        })
      )

    for (const repair of journal.repairs) {
      yield* publish(author, new Event.JournalRepaired({ line: repair.line, bytes: repair.bytes }))
    }

    return {
      publish,
      publishAll,
      subscribe,
      join,
      leave,
      interrupt,
      flush: Effect.suspend(() => flushUpTo(nextSequence - 1)),
      lastSequence: Effect.sync(() => nextSequence - 1),
      members: Effect.sync(() => [...members].map(([id, member]) => ({ id, kind: member.kind }))),
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
