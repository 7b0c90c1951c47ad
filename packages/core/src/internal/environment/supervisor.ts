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
 *   publishes `ParticipantLeft`.
 *
 * Join and leave are O(1): a `Map` of members, a `Set` of mailboxes, a
 * `FiberMap` keyed by id. A member is removed from the map before its
 * `ParticipantLeft` / final `ParticipantFailed` is published, so whoever
 * reads that event sees the member gone.
 *
 * @internal
 */
import { Cause, Effect, Either, Exit, Fiber, FiberMap, FiberStatus, Schedule, Stream } from "effect"
import type { Scope } from "effect"
import * as Event from "../../Event.js"
import type * as Journal from "../../Journal.js"
import type * as Participant from "../../Participant.js"
import type { Mailbox } from "../mailbox.js"
import type { FanOut } from "./fanOut.js"

/** The author of the events the environment itself publishes. */
const author = "environment"

export interface Member {
  readonly id: string
  readonly kind: Event.ParticipantKind
}

interface Entry {
  readonly kind: Event.ParticipantKind
  readonly mailbox: Mailbox
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

    const supervise = <E, R>(
      participant: Participant.Participant<E, R>,
      mailbox: Mailbox,
      inbox: Participant.Inbox,
      start: Participant.Start,
      restart: JoinOptions["restart"],
      progress: { started: boolean; failure: Cause.Cause<unknown> | undefined }
    ): Effect.Effect<void, never, R> =>
      Effect.gen(function*() {
        const driver = restart === undefined ? undefined : yield* Schedule.driver(restart)
        let attempt = 0
        while (true) {
          const exit = yield* Effect.exit(participant.run(inbox, start))
          if (Exit.isSuccess(exit)) {
            if (remove(participant.id, mailbox)) publish(author, new Event.ParticipantLeft({ participant: participant.id }))
            return
          }
          if (Cause.isInterruptedOnly(exit.cause)) return yield* Effect.interrupt
          const cause = Cause.pretty(exit.cause)
          if (!progress.started && attempt === 0) progress.failure = exit.cause
          if (driver === undefined || progress.failure !== undefined) {
            remove(participant.id, mailbox)
            publish(author, new Event.ParticipantFailed({ participant: participant.id, cause }))
            return
          }
          publish(author, new Event.ParticipantFailed({ participant: participant.id, cause }))
          const next = yield* Effect.either(driver.next(exit.cause))
          if (Either.isLeft(next)) {
            if (remove(participant.id, mailbox)) publish(author, new Event.ParticipantLeft({ participant: participant.id }))
            return
          }
          attempt++
          publish(author, new Event.ParticipantRestarted({ participant: participant.id, attempt }))
        }
      }).pipe(Effect.ensuring(Effect.sync(() => remove(participant.id, mailbox))))

    const inboxOf = (participant: Participant.Participant<unknown, unknown>, mailbox: Mailbox, max: number) => {
      const from = participant.from ?? (participant.replay === true ? 0 : undefined)
      const last = options.last()
      const live = options.live(mailbox, max)
      if (from === undefined || from > last) return { inbox: live, history: -1 }
      return { inbox: Stream.concat(options.history(Math.max(0, from), last), live), history: last }
    }

    const join = <E, R>(participant: Participant.Participant<E, R>, joinOptions: JoinOptions | undefined) =>
      Effect.gen(function*() {
        if (entries.has(participant.id)) {
          return yield* Effect.fail<JoinError>({ _tag: "AlreadyJoined", participant: participant.id })
        }
        // Registered in one synchronous step with the history bound: no gap, no duplicate.
        const mailbox = fanOut.open(participant)
        const { history, inbox } = inboxOf(
          participant as Participant.Participant<unknown, unknown>,
          mailbox,
          joinOptions?.restart === undefined ? Number.POSITIVE_INFINITY : 1
        )
        entries.set(participant.id, { kind: participant.kind, mailbox })
        publish(author, new Event.ParticipantJoined({ participant: participant.id, kind: participant.kind }))
        const progress: { started: boolean; failure: Cause.Cause<unknown> | undefined } = { started: false, failure: undefined }
        // Reading the inbox counts as started: a failure on an event is a failure, not a failed start.
        const reading = Stream.onStart(inbox, Effect.sync(() => {
          progress.started = true
        }))
        const fiber = yield* FiberMap.run(
          fibers,
          participant.id,
          supervise(
            participant,
            mailbox,
            reading,
            { history, leaving: Effect.sync(() => leaving.has(participant.id)) },
            joinOptions?.restart,
            progress
          )
        )
        for (let turn = 0; turn < startTurns; turn++) {
          yield* Effect.yieldNow()
          // Cheap checks first: most participants read their inbox right away.
          if (progress.started || fiber.unsafePoll() !== null) break
          if (!FiberStatus.isRunning(yield* Fiber.status(fiber))) break
        }
        progress.started = true
        if (progress.failure !== undefined) {
          return yield* Effect.fail<JoinError>({ _tag: "StartFailed", participant: participant.id, cause: progress.failure })
        }
      })

    const leave = (id: string) =>
      Effect.suspend(() => {
        const entry = entries.get(id)
        if (entry === undefined) return Effect.void
        leaving.add(id)
        return Effect.ensuring(FiberMap.remove(fibers, id), Effect.sync(() => leaving.delete(id))).pipe(
          Effect.zipRight(Effect.sync(() => {
            remove(id, entry.mailbox)
            publish(author, new Event.ParticipantLeft({ participant: id }))
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
