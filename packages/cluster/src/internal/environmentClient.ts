/**
 * The `Environment` service on any node of a cluster: every call goes to the environment's entity, wherever
 * the cluster placed it. Participants run on the node that joins them (their generators come from its layers);
 * their inboxes are subscriptions to the entity.
 *
 * A subscription keeps a cursor (the last sequence it delivered): when the entity's stream ends or fails
 * because its runner went away, it subscribes again from the cursor, and drops what it already delivered
 * (a re-sent request replays from its original sequence). So a subscriber sees one continuous history.
 *
 * @internal
 */
import type { Sharding } from "@effect/cluster"
import { Cause, Chunk, Clock, Effect, Either, Exit, FiberMap, Option, Random, Schedule, Stream, SubscriptionRef } from "effect"
import type { Scope } from "effect"
import type { Participant, Reducer } from "@chorus/core"
import { Environment, Event, Journal } from "@chorus/core"
import { EnvironmentEntity } from "./environmentEntity.js"
import { deliver, retryDelay } from "./retry.js"

const isJournalFailure = (error: unknown): error is Journal.JournalError | Journal.JournalCorrupted =>
  error instanceof Journal.JournalError || error instanceof Journal.JournalCorrupted

/** Wait before subscribing again after the entity's runner went away. */
const resubscribeDelay = retryDelay

/** Turns `join` yields, at most, for a participant to start reading its inbox (as in one process). */
const startTurns = 64

/** Whether a joining participant has started reading its inbox, and why it failed if it failed first. */
interface StartProgress {
  started: boolean
  failure: Cause.Cause<unknown> | undefined
}

/** A reducer's state and the last sequence folded into it. */
interface Folded<S> {
  readonly state: S
  readonly sequence: number
}

/** The clustered environment, and the join of a hosted agent that takes its place again. */
export interface Client extends Environment.Service {
  /** Joins, or takes the participant's place again when it is a member of the same kind already (no other instance runs it). */
  readonly rejoin: <E, R>(
    participant: Participant.Participant<E, R>
  ) => Effect.Effect<void, Environment.ParticipantAlreadyJoined | Environment.ParticipantStartFailed, R>
}

export const make = (
  environmentId: string
): Effect.Effect<Client, never, Sharding.Sharding | Scope.Scope> =>
  Effect.gen(function*() {
    const makeClient = yield* EnvironmentEntity.client
    const entity = makeClient(environmentId)
    // Requests are sent again when the cluster cuts them or leaves them unanswered (see retry.ts); an attempt
    // left unanswered keeps running in this client's scope.
    const scope = yield* Effect.scope
    const send = <A, E, R>(request: Effect.Effect<A, E, R>) => deliver(request, { scope })

    // Per entity instance, the last event this node published through it since the last flush: `flush` checks
    // each is in the journal (a runner that died may not have written what it stamped).
    let unflushed = new Map<string, Event.Event>()
    // Every publish carries a key unique to this client: when the cluster re-sends it (its runner died before
    // replying), the environment applies it once.
    const node = `${(yield* Clock.currentTimeMillis).toString(36)}-${(yield* Random.nextInt).toString(36)}`
    let publishes = 0
    const publishAll = (author: string, payloads: Iterable<Event.Payload>) =>
      Effect.suspend(() => {
        const request = { author, payloads: [...payloads], key: `${node}/${++publishes}` }
        // Sent again, with its key, when the cluster cuts it or leaves it unanswered: applied once either way
        // (an attempt that arrives after another was applied gets the same events back).
        return send(Effect.orDie(Effect.suspend(() => entity.Publish(request))))
      }).pipe(Effect.map(({ events, instance }) => {
        const last = events[events.length - 1]
        const previous = unflushed.get(instance)
        if (last !== undefined && (previous === undefined || previous.sequence < last.sequence)) unflushed.set(instance, last)
        return events
      }))
    const publish = (author: string, payload: Event.Payload) =>
      Effect.map(publishAll(author, [payload]), (events) => events[0]!)
    const lastSequence = Effect.orDie(send(Effect.suspend(() => entity.LastSequence())))

    // Events from `from` on, across entity moves, each once, in order.
    const follow = (from: number): Environment.Subscription["stream"] =>
      Stream.suspend(() => {
        let next = from
        const attempt = (): Environment.Subscription["stream"] =>
          Stream.suspend(() => entity.Subscribe({ from: next })).pipe(
            Stream.filter((event) => event.sequence >= next),
            Stream.tap((event) =>
              Effect.sync(() => {
                next = event.sequence + 1
              })
            ),
            // A failure other than the journal's, or an interruption by the cluster (not of this fiber: that is
            // not recoverable), is the entity's runner going away: subscribe again from the cursor.
            Stream.catchAllCause((cause) => {
              const failure = Cause.failureOption(cause)
              if (Option.isSome(failure) && isJournalFailure(failure.value)) return Stream.fail(failure.value)
              if (Option.isSome(failure) || Cause.isInterruptedOnly(cause)) return Stream.execute(Effect.sleep(resubscribeDelay))
              return Stream.failCause(Cause.stripFailures(cause))
            }),
            // The entity's stream ends when its instance closes (a shard moved, a runner stopped): follow it.
            (stream) => Stream.concat(stream, Stream.suspend(attempt))
          )
        return attempt()
      })

    const subscribe = (options?: Environment.SubscribeOptions) =>
      Effect.gen(function*() {
        const from = options?.from ?? (yield* lastSequence) + 1
        const accepts = options?.accepts
        const stream = accepts === undefined ? follow(from) : Stream.filter(follow(from), accepts)
        return {
          stream,
          // Backlogs live in the entity's mailboxes, where coalescing happens; nothing waits here.
          backlog: Effect.succeed(0),
          coalesced: Effect.succeed(0)
        } satisfies Environment.Subscription
      })

    // --- participants -------------------------------------------------------
    const fibers = yield* FiberMap.make<string>()

    const supervise = <E, R>(
      participant: Participant.Participant<E, R>,
      inboxFrom: (from: number) => Participant.Inbox,
      first: number,
      start: Participant.Start,
      restart: Environment.JoinOptions["restart"],
      progress: StartProgress
    ): Effect.Effect<void, never, R> =>
      Effect.gen(function*() {
        const driver = restart === undefined ? undefined : yield* Schedule.driver(restart)
        let attempt = 0
        // The next event a restarted participant takes: the one after the event it failed on.
        let next = first
        while (true) {
          const inbox = inboxFrom(next).pipe(Stream.tap((event) =>
            Effect.sync(() => {
              next = event.sequence + 1
            })
          ))
          const exit = yield* Effect.exit(participant.run(inbox, start))
          if (Exit.isSuccess(exit)) {
            yield* publish(Environment.author, new Event.ParticipantLeft({ participant: participant.id }))
            return
          }
          if (Cause.isInterruptedOnly(exit.cause)) return yield* Effect.interrupt
          // A failure before reading the inbox is a failed start: `join` fails with it, and it is not restarted.
          const failedStart = !progress.started && attempt === 0
          if (failedStart) progress.failure = exit.cause
          yield* publish(Environment.author, new Event.ParticipantFailed({ participant: participant.id, cause: Cause.pretty(exit.cause) }))
          if (driver === undefined || failedStart) return
          const decision = yield* Effect.either(driver.next(exit.cause))
          if (Either.isLeft(decision)) return
          attempt++
          yield* publish(Environment.author, new Event.ParticipantRestarted({ participant: participant.id, attempt }))
        }
      })

    const join = <E, R>(participant: Participant.Participant<E, R>, options?: Environment.JoinOptions, rejoin = false) =>
      Effect.gen(function*() {
        const request = Effect.suspend(() => entity.Join({ participant: participant.id, kind: participant.kind, rejoin }))
        // A rejoin is idempotent (a member taking its place again): sent again when the cluster cuts it.
        const { seen, sequence: joined } = yield* (rejoin ? send(request) : request).pipe(
          Effect.catchIf((error) => !(error instanceof Environment.ParticipantAlreadyJoined), Effect.die)
        )
        // Its inbox starts with its own ParticipantJoined; with `replay`, the history before it comes first, unfiltered.
        // A rejoining participant takes what came after the last event it saw as live.
        const history = participant.replay === true ? (seen ?? joined - 1) : -1
        const accepts = participant.accepts
        const progress: StartProgress = { started: false, failure: undefined }
        // Reading the inbox counts as started (as in one process): a failure on an event is not a failed start.
        const inboxFrom = (from: number): Participant.Inbox =>
          Stream.onStart(
            accepts === undefined ? follow(from) : Stream.filter(follow(from), (event) => event.sequence <= history || accepts(event)),
            Effect.sync(() => {
              progress.started = true
            })
          )
        const fiber = yield* FiberMap.run(
          fibers,
          participant.id,
          supervise(participant, inboxFrom, history >= 0 ? 0 : joined, { history }, options?.restart, progress)
        )
        // The failure is recorded before ParticipantFailed goes to the entity, so no remote call is waited for.
        for (
          let turn = 0;
          turn < startTurns && !progress.started && progress.failure === undefined && fiber.unsafePoll() === null;
          turn++
        ) {
          yield* Effect.yieldNow()
        }
        progress.started = true
        if (progress.failure !== undefined) {
          return yield* new Environment.ParticipantStartFailed({
            participant: participant.id,
            cause: Cause.pretty(progress.failure)
          })
        }
      })

    const leave = (id: string) =>
      Effect.gen(function*() {
        yield* FiberMap.remove(fibers, id)
        yield* Effect.orDie(send(Effect.suspend(() => entity.Leave({ participant: id }))))
      })

    // --- derived state ------------------------------------------------------
    const snapshot = <S>(reducer: Reducer.Reducer<S>) =>
      Effect.gen(function*() {
        const last = yield* lastSequence
        if (last < 0) return reducer.initial
        return yield* follow(0).pipe(
          Stream.takeUntil((event) => event.sequence >= last),
          Stream.runFold(reducer.initial, reducer.reduce)
        )
      })

    const state = <S>(reducer: Reducer.Reducer<S>) =>
      Effect.gen(function*() {
        const ref = yield* SubscriptionRef.make(reducer.initial)
        yield* follow(0).pipe(
          Stream.runForEachChunk((chunk) => SubscriptionRef.update(ref, (state) => Chunk.reduce(chunk, state, reducer.reduce))),
          Effect.catchAllCause((cause) => Effect.logError("environment: a derived state stopped", cause)),
          Effect.forkScoped
        )
        return ref
      })

    // Live projections: one follower per reducer (by identity), started on first use in this client's scope;
    // a read waits until the follower has folded everything published before it, then is a memory read.
    const projections = new Map<Reducer.Reducer<unknown>, SubscriptionRef.SubscriptionRef<Folded<unknown>>>()
    const projection = <S>(reducer: Reducer.Reducer<S>) =>
      Effect.gen(function*() {
        let ref = projections.get(reducer as Reducer.Reducer<unknown>) as
          | SubscriptionRef.SubscriptionRef<Folded<S>>
          | undefined
        if (ref === undefined) {
          const created = yield* SubscriptionRef.make<Folded<S>>({ state: reducer.initial, sequence: -1 })
          yield* follow(0).pipe(
            Stream.runForEachChunk((chunk) =>
              SubscriptionRef.update(created, (folded) =>
                Chunk.reduce(chunk, folded, (acc, event) => ({
                  state: reducer.reduce(acc.state, event),
                  sequence: event.sequence
                })))
            ),
            Effect.catchAllCause((cause) => Effect.logError("environment: a projection stopped", cause)),
            Effect.forkIn(scope)
          )
          projections.set(reducer as Reducer.Reducer<unknown>, created as SubscriptionRef.SubscriptionRef<Folded<unknown>>)
          ref = created
        }
        const last = yield* lastSequence
        const current = yield* ref.changes.pipe(Stream.filter((folded) => folded.sequence >= last), Stream.runHead)
        return Option.isSome(current) ? current.value.state : reducer.initial
      })

    const waitFor: Environment.Service["waitFor"] = (predicate, options) =>
      Effect.gen(function*() {
        const found = yield* follow(options?.from ?? 0).pipe(Stream.filter(predicate), Stream.runHead)
        if (Option.isNone(found)) return yield* Effect.die(new Error("environment closed while waiting for an event"))
        return found.value as never
      })

    return {
      publish,
      publishAll,
      subscribe,
      join: (participant, options) => join(participant, options),
      rejoin: (participant) => join(participant, undefined, true),
      leave,
      interrupt: (options) =>
        publish(options.by ?? Environment.author, new Event.InterruptRequested({ participant: options.participant, runId: options.runId ?? null })),
      flush: Effect.suspend(() => {
        // A loss is reported once; the next flush checks what is published after this one.
        const published = [...unflushed.values()]
        unflushed = new Map()
        // Idempotent (it reads the journal): sent again like the others.
        return send(Effect.suspend(() => entity.Flush({ published })))
      }).pipe(Effect.catchIf((error) => !(error instanceof Journal.JournalError), Effect.die)),
      lastSequence,
      members: Effect.orDie(send(Effect.suspend(() => entity.Members()))),
      projection,
      snapshot,
      state,
      waitFor
    } satisfies Client
  })
