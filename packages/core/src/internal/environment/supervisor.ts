/**
 * The supervisor: who is in the environment, and the fiber each participant
 * runs in.
 *
 * - `join` opens the participant's mailbox and registers it in one
 *   synchronous step (an event published after `join` returns reaches it),
 *   publishes `ParticipantJoined`, forks the participant into a `FiberMap`
 *   and returns once it has **started**: it is waiting for something (its
 *   inbox, its input, a timer) or has ended. A participant that fails before
 *   that (a missing service, a bad option, a journal it cannot replay) makes
 *   `join` fail with the cause — it is not kept and not restarted — and its
 *   failure is published as usual.
 * - A later failure is published with its cause and isolated; a restart
 *   `Schedule` may restart the participant on the same inbox. When the
 *   schedule gives up, the participant leaves (`ParticipantLeft`).
 * - `leave` interrupts the participant, waits for its finalizers and
 *   publishes `ParticipantLeft`. (A member of the `onEvent` loop waiting on
 *   its empty mailbox has nothing to interrupt: closing the mailbox ends it.)
 * - An `onEvent` member without history has no start to wait for: it reads
 *   its mailbox first, and nothing it runs before that can fail.
 *
 * Join and leave are O(1): a `Map` of members, a `Set` of mailboxes, a
 * `FiberMap` keyed by id. A member is removed from the map before its
 * `ParticipantLeft` / final `ParticipantFailed` is published, so whoever
 * reads that event sees the member gone.
 *
 * @internal
 */
import { Cause, Chunk, Effect, Either, Exit, Fiber, FiberMap, FiberStatus, Option, Schedule, Stream } from "effect"
import type { Scope } from "effect"
import * as Event from "../../Event.js"
import type * as Journal from "../../Journal.js"
import type * as Participant from "../../Participant.js"
import type { Mailbox } from "../mailbox.js"
import type { FanOut } from "./fanOut.js"
import * as JournalIndex from "./journalIndex.js"
import * as Payload from "./payload.js"
import type { Projections } from "./projections.js"

/** The author of the events the environment itself publishes. */
const author = "environment"

export interface Member {
  readonly id: string
  readonly kind: Event.ParticipantKind
}

interface Entry {
  readonly kind: Event.ParticipantKind
  readonly mailbox: Mailbox
  /** Runs the plain `onEvent` loop over its mailbox (see `bodyOf`). */
  readonly loop: boolean
}

export interface JoinOptions {
  readonly restart?: Schedule.Schedule<unknown, Cause.Cause<unknown>> | undefined
}

export interface Supervisor {
  readonly join: <E, R>(
    participant: Participant.Participant<E, R>,
    options: JoinOptions | undefined
  ) => Effect.Effect<void, JoinError, R>
  readonly leave: (id: string) => Effect.Effect<void>
  readonly members: () => ReadonlyArray<Member>
  readonly isMember: (id: string) => boolean
}

export type JoinError =
  | { readonly _tag: "AlreadyJoined"; readonly participant: string }
  | { readonly _tag: "StartFailed"; readonly participant: string; readonly cause: Cause.Cause<unknown> }

/** Whether a participant has started, and why it failed if it failed before that. */
interface Progress {
  started: boolean
  failure: Cause.Cause<unknown> | undefined
}

/** How many scheduler turns `join` gives a participant to reach its first wait. */
const startTurns = 64

export const make = (options: {
  readonly publish: (author: string, payload: Event.Payload) => Event.Event
  readonly fanOut: FanOut
  readonly last: () => number
  /** Events in `[from, to]` from the journal, once durable. */
  readonly history: (from: number, to: number) => Stream.Stream<Event.Event, Journal.JournalError | Journal.JournalCorrupted>
  /** Live events of a mailbox; `max` 1 hands them one at a time. */
  readonly live: (mailbox: Mailbox, max: number) => Participant.Inbox
  /** Where the journal index (`journalIndex.ts`) is kept live, for joins with `replayTaken`. */
  readonly projections: Projections
}): Effect.Effect<Supervisor, never, Scope.Scope> =>
  Effect.gen(function*() {
    const { fanOut, publish } = options
    const entries = new Map<string, Entry>()
    const fibers = yield* FiberMap.make<string>()
    // Participants being removed by `leave` (not stopped with the environment): they may tell the difference.
    const leaving = new Set<string>()

    const remove = (id: string, mailbox: Mailbox) => {
      if (entries.get(id)?.mailbox !== mailbox) return false
      entries.delete(id)
      fanOut.close(mailbox)
      return true
    }

    /**
     * Runs the participant, publishes how it ended, restarts it on its
     * schedule. Written without generators: it stays on the stack of every
     * member's fiber for the member's lifetime.
     */
    const supervise = <R>(
      participant: Participant.Participant<unknown, R>,
      mailbox: Mailbox,
      body: Effect.Effect<void, unknown, R>,
      restart: JoinOptions["restart"],
      progress: Progress
    ): Effect.Effect<void, never, R> => {
      const id = participant.id
      let driver: Schedule.ScheduleDriver<unknown, Cause.Cause<unknown>> | undefined = undefined
      let attempt = 0
      const leftForGood = () => {
        if (remove(id, mailbox)) publish(author, Payload.make(Event.ParticipantLeft, { participant: id }))
      }
      const next = (
        schedule: NonNullable<JoinOptions["restart"]>,
        cause: Cause.Cause<unknown>
      ): Effect.Effect<Either.Either<unknown, unknown>> =>
        Effect.flatMap(
          driver === undefined ? Effect.tap(Schedule.driver(schedule), (made) => {
            driver = made
          }) : Effect.succeed(driver),
          (made) => Effect.either(made.next(cause))
        )
      const afterRun = (exit: Exit.Exit<void, unknown>): Effect.Effect<void, never, R> => {
        if (Exit.isSuccess(exit)) return Effect.sync(leftForGood)
        // Interrupted from inside (interrupted from outside, a fiber does not get here: `leave` and closing remove it).
        if (Cause.isInterruptedOnly(exit.cause)) return Effect.zipRight(Effect.sync(() => remove(id, mailbox)), Effect.interrupt)
        const cause = Cause.pretty(exit.cause)
        if (!progress.started && attempt === 0) progress.failure = exit.cause
        if (restart === undefined || progress.failure !== undefined) {
          return Effect.sync(() => {
            remove(id, mailbox)
            publish(author, Payload.make(Event.ParticipantFailed, { participant: id, cause }))
          })
        }
        publish(author, Payload.make(Event.ParticipantFailed, { participant: id, cause }))
        return Effect.flatMap(next(restart, exit.cause), (decision) => {
          if (Either.isLeft(decision)) return Effect.sync(leftForGood)
          attempt++
          publish(author, Payload.make(Event.ParticipantRestarted, { participant: id, attempt }))
          return runOnce
        })
      }
      // One frame on the waiting member's stack (`Effect.exit` then `flatMap` would be two).
      const runOnce: Effect.Effect<void, never, R> = Effect.matchCauseEffect(body, {
        onFailure: (cause) => afterRun(Exit.failCause(cause)),
        onSuccess: () => afterRun(Exit.void)
      })
      return runOnce
    }

    /** The history a participant asked for, bound now (with its mailbox open): no gap, no duplicate. */
    const historyOf = (participant: Participant.Participant<unknown, unknown>) => {
      const from = participant.from ?? (participant.replay === true ? 0 : undefined)
      const last = options.last()
      if (from === undefined || from > last) return { history: -1, replay: undefined }
      const index = indexed(participant) ? options.projections.current(JournalIndex.reducer) : undefined
      if (index === undefined) return { history: last, replay: options.history(Math.max(0, from), last) }
      // Only what it takes, from the first event that may pass its filter; nothing when there is none.
      const first = JournalIndex.firstReplayed(index.state, participant)
      if (first === undefined || first > last) return { history: -1, replay: undefined }
      return { history: last, replay: Stream.filter(options.history(first, last), (event) => JournalIndex.replays(participant, event)) }
    }
    const indexed = (participant: Participant.Participant<unknown, unknown>) =>
      participant.replayTaken === true && participant.replay === true && participant.from === undefined

    /**
     * What one run of the participant does: a plain loop over its mailbox
     * when it handles events one by one (`onEvent`: no Stream pipeline, a few
     * KiB per member), else its `run` on the inbox stream. Reading the inbox
     * counts as started: a failure on an event is a failure, not a failed start.
     */
    const bodyOf = <E, R>(
      participant: Participant.Participant<E, R>,
      mailbox: Mailbox,
      max: number,
      replay: Participant.Inbox | undefined,
      start: Participant.Start,
      progress: Progress
    ): Effect.Effect<void, unknown, R> => {
      const serve = participant.serve
      if (serve !== undefined) {
        // The participant reads its mailbox itself: reading it (or its history) counts as started.
        const take = mailbox.take(max)
        return serve({
          history: replay === undefined ? undefined : Stream.onStart(replay, Effect.sync(() => {
            progress.started = true
          })),
          take: Effect.suspend(() => {
            progress.started = true
            return take
          })
        }, start)
      }
      const onEvent = participant.onEvent
      if (onEvent !== undefined) {
        // A loop of flatMaps rather than a generator: this is what every member's fiber holds while it waits.
        const loop: Effect.Effect<void, E, R> = Effect.flatMap(mailbox.take(max), (chunk) =>
          Chunk.isEmpty(chunk) ? Effect.void : Effect.zipRight(
            chunk.length === 1 ? onEvent(Chunk.unsafeHead(chunk)) : Effect.forEach(chunk, onEvent, { discard: true }),
            loop
          ))
        return Effect.suspend(() => {
          progress.started = true
          return replay === undefined ? loop : Effect.zipRight(Stream.runForEach(replay, onEvent), loop)
        })
      }
      const live = options.live(mailbox, max)
      const inbox = replay === undefined ? live : Stream.concat(replay, live)
      const reading = Stream.onStart(inbox, Effect.sync(() => {
        progress.started = true
      }))
      return participant.run(reading, start)
    }

    /** The participant's start: `join` gives it up to `startTurns` scheduler turns to reach its first wait. */
    const awaitStart = (
      fiber: Fiber.RuntimeFiber<void, never>,
      id: string,
      progress: Progress,
      turn: number
    ): Effect.Effect<void, JoinError> =>
      Effect.flatMap(Effect.yieldNow(), () => {
        // Cheap checks first: most participants read their inbox right away.
        if (progress.started || fiber.unsafePoll() !== null || turn + 1 >= startTurns) return started(id, progress)
        return Effect.flatMap(
          Fiber.status(fiber),
          (status) => FiberStatus.isRunning(status) ? awaitStart(fiber, id, progress, turn + 1) : started(id, progress)
        )
      })
    const started = (id: string, progress: Progress): Effect.Effect<void, JoinError> => {
      progress.started = true
      return progress.failure === undefined
        ? Effect.void
        : Effect.fail({ _tag: "StartFailed", participant: id, cause: progress.failure })
    }

    // Written without a generator, as `supervise`: 10,000 joins make 10,000 of whatever this allocates.
    const join = <E, R>(participant: Participant.Participant<E, R>, joinOptions: JoinOptions | undefined) =>
      Effect.suspend((): Effect.Effect<void, JoinError, R> => {
        if (entries.has(participant.id)) return Effect.fail({ _tag: "AlreadyJoined", participant: participant.id })
        // The journal index is live before the synchronous step that reads it (one replay, on the first such join).
        if (indexed(participant as Participant.Participant<unknown, unknown>)) {
          return Effect.zipRight(Effect.ignore(options.projections.get(JournalIndex.reducer)), register(participant, joinOptions))
        }
        return register(participant, joinOptions)
      })

    /** `join`'s synchronous step (mailbox, history, member, announcement), then the fork. */
    const register = <E, R>(participant: Participant.Participant<E, R>, joinOptions: JoinOptions | undefined) =>
      Effect.suspend((): Effect.Effect<void, JoinError, R> => {
        const id = participant.id
        // Checked again: another join of this id may have registered while the index was replayed.
        if (entries.has(id)) return Effect.fail({ _tag: "AlreadyJoined", participant: id })
        // Registered in one synchronous step with the history bound: no gap, no duplicate.
        const mailbox = fanOut.open(participant)
        const { history, replay } = historyOf(participant as Participant.Participant<unknown, unknown>)
        // The `onEvent` loop runs when the participant does not read its mailbox itself (`serve`, see `bodyOf`).
        const loop = participant.serve === undefined && participant.onEvent !== undefined
        entries.set(id, { kind: participant.kind, mailbox, loop })
        publish(author, Payload.make(Event.ParticipantJoined, { participant: id, kind: participant.kind }))
        const progress: Progress = { started: false, failure: undefined }
        const max = joinOptions?.restart === undefined ? Number.POSITIVE_INFINITY : 1
        const start: Participant.Start = { history, leaving: Effect.sync(() => leaving.has(id)) }
        const body = bodyOf(participant, mailbox, max, replay, start, progress)
        const forked = FiberMap.run(
          fibers,
          id,
          supervise(participant as Participant.Participant<unknown, R>, mailbox, body, joinOptions?.restart, progress)
        )
        // An `onEvent` member without history starts by waiting on its mailbox, and nothing runs before
        // that which could fail: there is no start to wait for (what is published now is in its mailbox).
        if (loop && replay === undefined) return Effect.asVoid(forked)
        return Effect.flatMap(forked, (fiber) => awaitStart(fiber, id, progress, 0))
      })

    /**
     * Stops a member: interrupts its fiber and waits for its finalizers. A
     * member in the `onEvent` loop that waits on its mailbox has nothing
     * running to interrupt: closing the mailbox ends its loop, and its fiber
     * ends as if it had returned (no interruption and its cause to build,
     * the bulk of a leave's cost with thousands of members).
     */
    const stop = (id: string, entry: Entry): Effect.Effect<void> => {
      if (!entry.loop || !entry.mailbox.waiting) return FiberMap.remove(fibers, id)
      const fiber = FiberMap.unsafeGet(fibers, id)
      entry.mailbox.close()
      return Option.isNone(fiber) ? Effect.void : Effect.asVoid(Fiber.await(fiber.value))
    }

    const leave = (id: string) =>
      Effect.suspend(() => {
        const entry = entries.get(id)
        if (entry === undefined) return Effect.void
        leaving.add(id)
        return Effect.ensuring(stop(id, entry), Effect.sync(() => leaving.delete(id))).pipe(
          Effect.zipRight(Effect.sync(() => {
            // A member stopped by closing its mailbox has already said it left (`leftForGood`).
            if (remove(id, entry.mailbox)) publish(author, Payload.make(Event.ParticipantLeft, { participant: id }))
          }))
        )
      })

    return {
      join,
      leave,
      members: () => Array.from(entries, ([id, entry]) => ({ id, kind: entry.kind })),
      isMember: (id) => entries.has(id)
    }
  })
