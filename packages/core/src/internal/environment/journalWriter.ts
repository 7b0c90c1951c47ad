/**
 * The journal writer: one fiber that appends what the environment publishes,
 * in sequence order and in batches, and tells `flush` callers when their
 * events are durable.
 *
 * ## Outage policy
 * - A failed append is retried, the same batch again, so the order is kept:
 *   the delays come from `retry` (default: exponential from 100 ms, capped at
 *   5 s, never ending). A `retry` schedule that ends declares the journal
 *   degraded (below) at once; the writer then goes on retrying every 5 s. It
 *   never gives up while the process lives, and nothing published is dropped
 *   (the backlog is held in memory).
 * - Events published meanwhile wait in memory, in order; when an append
 *   succeeds again the writer catches up with everything that piled up, in
 *   one batch (split by the journal as it needs).
 * - While the journal fails, `flush` waits — a short outage is invisible. The
 *   journal becomes **degraded** when the outage passes `degradedAfter` (the
 *   backlog of unwritten events reaches `backlog`, or the first failed
 *   attempt is older than `duration`, checked on publish, on flush, after each
 *   attempt and by a timer): the writer publishes `JournalDegraded`
 *   and from then on `flush` fails at once with the journal's last error, so
 *   no side effect that flushes first starts without a durable record.
 * - The first successful append after that publishes `JournalRecovered`
 *   (events caught up, downtime) and `flush` works again.
 *
 * ## Group commit
 * A journal whose append blocks the event loop (SQLite writes synchronously)
 * would otherwise be handed the few events published since the last write.
 * After a small batch the writer lingers as long as its append took (at most
 * `lingerCap`), measured on `Clock`, so the next batch holds what producers
 * published meanwhile. With `TestClock` appends take no time: no lingering.
 *
 * ## Reads during an outage
 * What is published but not yet durable stays in memory, in order, until it
 * is written (`unwritten`). A read of history waits for its events to be
 * durable, as a flush does; when that fails (degraded), the environment
 * reads the journal up to what is durable, then that tail. Reads (`waitFor`
 * from 0, a subscription or a participant with history, a projection
 * registering) therefore do not fail while the journal is degraded — as long
 * as the journal can still be read.
 *
 * ## One queue
 * What is published and not yet durable is one array, in order: the
 * writer's next batch is all of it, and the tail reads take from it. An
 * Effect `Mailbox` wakes the writer: one signal when that array gains events
 * while the writer is idle, not one message per event (the publish hot path
 * pays one array push).
 *
 * ## A synchronous journal
 * The in-memory journal's appends are a synchronous store that cannot fail:
 * the writer appends to it at once, in the publish step, and every event is
 * durable when `publish` returns. No event waits in memory for a writer
 * fiber, no flush waits, and the outage policy above never applies.
 *
 * State is owned by this module; the environment calls `offer` from its
 * publish step (synchronous) and `flush` from any fiber.
 *
 * @internal
 */
import { Deferred, Duration, Effect, Either, Fiber, FiberId, Mailbox, Schedule } from "effect"
import type { Clock, Scope } from "effect"
import * as Event from "../../Event.js"
import * as Journal from "../../Journal.js"
import * as JournalMemory from "../journalMemory.js"

/** When a failing journal is declared degraded. */
export interface DegradedAfter {
  /** Unwritten events. Default 1,000. */
  readonly backlog?: number | undefined
  /** Time since the first failed attempt of the current outage. Default 2 seconds. */
  readonly duration?: Duration.DurationInput | undefined
}

export interface Options {
  readonly retry?: Schedule.Schedule<unknown, Journal.JournalError> | undefined
  readonly degradedAfter?: DegradedAfter | undefined
}

/** Default delays between attempts: exponential from 100 ms, never more than 5 s apart, forever. */
export const defaultRetry: Schedule.Schedule<unknown, Journal.JournalError> = Schedule.exponential("100 millis").pipe(
  Schedule.union(Schedule.spaced("5 seconds"))
)

/** The delays once a `retry` schedule ended. */
const afterRetry: Schedule.Schedule<unknown, Journal.JournalError> = Schedule.spaced("5 seconds")

const smallBatch = 256
const lingerCap = 4

type Health =
  | { readonly _tag: "Healthy" }
  | { readonly _tag: "Failing"; readonly since: number; readonly from: number; readonly error: Journal.JournalError }
  | { readonly _tag: "Degraded"; readonly since: number; readonly from: number; readonly error: Journal.JournalError }

interface Waiter {
  readonly sequence: number
  readonly deferred: Deferred.Deferred<void, Journal.JournalError>
}

export interface JournalWriter {
  /** Hands published events to the writer (synchronous, from the publish step). */
  readonly offer: (events: ReadonlyArray<Event.Event>) => void
  /** `offer` of one event, without an array (the publish hot path). */
  readonly offerOne: (event: Event.Event) => void
  /** Waits until every event up to `sequence` is durable; fails at once while degraded. */
  readonly flushUpTo: (sequence: number) => Effect.Effect<void, Journal.JournalError>
  /** The last sequence known durable. */
  readonly persisted: () => number
  /**
   * Now: the last durable sequence, and the published events after it up to
   * `to` (from `from` on), in order — what a read must take from memory.
   */
  readonly unwritten: (from: number, to: number) => { readonly durable: number; readonly tail: ReadonlyArray<Event.Event> }
}

/**
 * Starts the writer in `scope`. `announce` publishes the writer's own events
 * (degraded, recovered) through the environment, synchronously.
 */
export const make = (options: {
  readonly journal: Journal.Service
  readonly persisted: number
  readonly clock: Clock.Clock
  readonly announce: (payload: Event.Payload) => void
  readonly writer?: Options | undefined
}): Effect.Effect<JournalWriter, never, Scope.Scope> =>
  Effect.gen(function*() {
    const { announce, clock, journal } = options
    const retry = options.writer?.retry ?? defaultRetry
    const maxBacklog = options.writer?.degradedAfter?.backlog ?? 1_000
    const maxOutage = Duration.toMillis(options.writer?.degradedAfter?.duration ?? "2 seconds")
    // Signals that `pending` holds events the writer has not taken: offered once per idle spell, not per event.
    const wake = yield* Mailbox.make<void>()
    let signalled = false
    const signal = () => {
      if (signalled) return
      signalled = true
      wake.unsafeOffer(undefined)
    }

    let persisted = options.persisted
    let offered = options.persisted
    let health: Health = { _tag: "Healthy" }
    // Published and not yet durable, contiguous from `persisted + 1`: the writer's queue, and what the tail reads take
    // from memory.
    let pending: Array<Event.Event> = []
    let pendingHead = 0
    const forgetDurable = () => {
      while (pendingHead < pending.length && pending[pendingHead]!.sequence <= persisted) pendingHead++
      if (pendingHead === pending.length) {
        pending = []
        pendingHead = 0
      } else if (pendingHead > 1024 && pendingHead * 2 > pending.length) {
        pending = pending.slice(pendingHead)
        pendingHead = 0
      }
    }
    const unwritten = (from: number, to: number) => {
      const durable = persisted
      if (pendingHead === pending.length) return { durable, tail: [] }
      const first = pending[pendingHead]!.sequence
      const start = pendingHead + Math.max(0, from - first)
      const end = pendingHead + Math.max(0, to - first + 1)
      return { durable, tail: pending.slice(start, Math.min(end, pending.length)) }
    }

    // Flushes in the order they were asked, which is the order of their sequences: settled from the head.
    const waiters: Array<Waiter> = []
    let head = 0

    const settle = () => {
      while (head < waiters.length) {
        const waiter = waiters[head]!
        if (health._tag === "Degraded") Deferred.unsafeDone(waiter.deferred, Effect.fail(degradedError(health.error)))
        else if (waiter.sequence <= persisted) Deferred.unsafeDone(waiter.deferred, Effect.void)
        else break
        head++
      }
      if (head > 1024 && head * 2 > waiters.length) {
        waiters.splice(0, head)
        head = 0
      }
    }

    const degrade = () => {
      if (health._tag !== "Failing") return
      health = { ...health, _tag: "Degraded" }
      settle()
      announce(new Event.JournalDegraded({ error: health.error.message, since: persisted + 1, unwritten: offered - persisted }))
    }

    const outageTooLong = () =>
      health._tag === "Failing" &&
      (offered - persisted >= maxBacklog || clock.unsafeCurrentTimeMillis() - health.since >= maxOutage)

    // The in-memory journal's store, appended to at once (see "A synchronous journal").
    const store = JournalMemory.stores.get(journal)

    const offer = (events: ReadonlyArray<Event.Event>) => {
      if (events.length === 0) return
      offered = events[events.length - 1]!.sequence
      if (store !== undefined) {
        store.append(events)
        persisted = offered
        return
      }
      for (const event of events) pending.push(event)
      signal()
      if (health._tag !== "Healthy" && outageTooLong()) degrade()
    }

    // Declares the outage degraded when it lasts `maxOutage`, even if no attempt or flush happens then.
    const watchdog = Effect.sleep(maxOutage).pipe(
      Effect.zipRight(Effect.sync(() => {
        if (health._tag === "Failing") degrade()
      }))
    )

    const offerOne = (event: Event.Event) => {
      offered = event.sequence
      if (store !== undefined) {
        store.appendOne(event)
        persisted = offered
        return
      }
      pending.push(event)
      signal()
      if (health._tag !== "Healthy" && outageTooLong()) degrade()
    }

    // A journal whose append dies (a driver's bug, a library reporting a failure as a defect) is failing like any
    // other: left a defect, it would end the writer's fiber, and nothing would be written or retried again.
    const appendOrFail = (batch: ReadonlyArray<Event.Event>) =>
      journal.append(batch).pipe(Effect.catchAllDefect((defect) =>
        Effect.fail(new Journal.JournalError({ operation: "append", detail: `the journal's append died: ${String(defect)}`, cause: defect }))
      ))

    const write = (batch: ReadonlyArray<Event.Event>) =>
      Effect.gen(function*() {
        let driver = yield* Schedule.driver(retry)
        let watching: Fiber.RuntimeFiber<void> | undefined = undefined
        while (true) {
          const started = clock.unsafeCurrentTimeMillis()
          const written = yield* Effect.either(appendOrFail(batch))
          if (Either.isRight(written)) {
            if (watching !== undefined) yield* Fiber.interruptFork(watching)
            const before = health
            persisted = batch[batch.length - 1]!.sequence
            forgetDurable()
            health = { _tag: "Healthy" }
            settle()
            if (before._tag === "Degraded") {
              announce(new Event.JournalRecovered({ written: persisted - before.from + 1, downtimeMillis: clock.unsafeCurrentTimeMillis() - before.since }))
            }
            return clock.unsafeCurrentTimeMillis() - started
          }
          if (health._tag === "Healthy") {
            health = { _tag: "Failing", since: started, from: batch[0]!.sequence, error: written.left }
            watching = yield* Effect.fork(watchdog)
            yield* Effect.logWarning("environment: a journal append failed; retrying", written.left)
          } else {
            health = { ...health, error: written.left }
          }
          if (outageTooLong()) {
            degrade()
            yield* Effect.logError("environment: the journal is degraded; flush fails until it recovers", written.left)
          }
          const delay = yield* Effect.either(driver.next(written.left))
          if (Either.isLeft(delay)) {
            // The schedule ended: the journal is degraded, and the writer goes on at the cap (it never gives up).
            if (health._tag === "Failing") {
              degrade()
              yield* Effect.logError("environment: the journal is degraded; flush fails until it recovers", written.left)
            }
            driver = yield* Schedule.driver(afterRetry)
          }
        }
      })

    const loop = Effect.gen(function*() {
      while (true) {
        const [, done] = yield* wake.takeAll
        signalled = false
        // Everything not yet durable: the writer is the only one writing, so none of it is being written.
        if (pendingHead < pending.length) {
          const batch = pending.slice(pendingHead)
          const took = yield* write(batch)
          if (batch.length < smallBatch && took > 0) yield* Effect.sleep(Math.min(took, lingerCap))
        }
        if (done) return
      }
    })
    yield* Effect.forkScoped(loop)

    const flushUpTo = (sequence: number): Effect.Effect<void, Journal.JournalError> =>
      Effect.suspend(() => {
        if (sequence <= persisted) return Effect.void
        if (outageTooLong()) degrade()
        if (health._tag === "Degraded") return Effect.fail(degradedError(health.error))
        const deferred = Deferred.unsafeMake<void, Journal.JournalError>(FiberId.none)
        waiters.push({ sequence, deferred })
        return Deferred.await(deferred)
      })

    return { offer, offerOne, flushUpTo, persisted: () => persisted, unwritten }
  })

const degradedError = (error: Journal.JournalError) =>
  new Journal.JournalError({
    operation: error.operation,
    detail: `the journal is degraded, nothing is durable until it recovers: ${error.detail}`,
    cause: error
  })
