/**
 * Requests the cluster may cut, or leave unanswered.
 *
 * - Cut: `@effect/cluster` interrupts every request in flight to a runner it declares unavailable (it closes
 *   its client to that runner), and answers a request whose connection broke mid-way with a defect.
 * - Unanswered: a request can also get no answer at all. A write to a connection that just closed waits for
 *   it to reopen, which never happens for a runner that died; and the client of a runner declared unavailable
 *   is only closed once nothing uses it. Seen in the multi-process tests: a wake sent just after its agent's
 *   runner was SIGKILLed, and a rebuilt agent's `Members` while the environment moved between two survivors,
 *   both waited until the test timed out.
 *
 * For an idempotent request all three mean "send it again": {@link deliver} does, so that every request of
 * the clustered environment and of hosted agents answers, or fails with a defect, in bounded time.
 *
 * @internal
 */
import { Cause, Duration, Effect, Exit, Fiber, Option } from "effect"
import type { Scope } from "effect"

/** Wait before sending again. */
export const retryDelay = Duration.millis(100)

/**
 * How long an attempt may go unanswered before it is sent again. Above the time a healthy but loaded runner
 * takes to answer, and short next to the time the cluster takes to move a dead runner's shards (with
 * `shardLockExpiration` 9 s, up to ~10 s, plus `entityTerminationTimeout` when a shard moves between
 * survivors): a request sent into that window is sent again once or twice, not waited on for good.
 */
export const defaultPatience = Duration.seconds(10)

/** Attempts before giving up: 30 × 10 s, about five minutes (far above the cluster's failure detection). */
export const defaultAttempts = 30

/**
 * Runs an idempotent request again when the cluster cut it, interrupted or with a defect, waiting longer each
 * time (100 ms doubling up to 2 s), at most `attempts` times (default 30, about a minute); its typed failures are
 * the caller's. An interruption of this fiber itself is not recovered (Effect does not let a fiber being
 * interrupted catch it), so this never outlives its caller.
 */
export const retryCut = <A, E, R>(request: Effect.Effect<A, E, R>, attempts = 30): Effect.Effect<A, E, R> => {
  const attempt = (n: number): Effect.Effect<A, E, R> =>
    Effect.catchAllCause(request, (cause) =>
      Option.isSome(Cause.failureOption(cause)) || n >= attempts
        ? Effect.failCause(cause)
        : Effect.zipRight(
          Effect.sleep(Duration.min(Duration.times(retryDelay, 2 ** Math.min(n, 5)), Duration.seconds(2))),
          attempt(n + 1)
        ))
  return attempt(1)
}

/** Options of {@link deliver}. */
export interface DeliverOptions {
  /**
   * Where attempts run while the request is unanswered (interrupting one would interrupt the handler on a
   * runner that is only slow); a daemon fiber when absent. Once the request is answered (or given up, or its
   * caller interrupted), the attempts still running are interrupted: none outlives the request.
   */
  readonly scope?: Scope.Scope | undefined
  readonly patience?: Duration.DurationInput | undefined
  readonly attempts?: number | undefined
}

/** An attempt's end that answers the request: a success or a typed failure (not a cut that outlasted its retries). */
const answers = <A, E>(exit: Exit.Exit<A, E>) => Exit.isSuccess(exit) || Option.isSome(Cause.failureOption(exit.cause))

/**
 * Sends an idempotent request until it is delivered: each attempt is retried as {@link retryCut} does, and the
 * request is sent again, in a new attempt, whenever the attempts so far got no answer within `patience`.
 * Whichever attempt answers first is the answer, a success or a typed failure (the request is idempotent: any
 * attempt's answer is the answer); an attempt whose cuts outlasted its own retries is dropped while others run.
 * After `attempts` sends without an answer it dies (with the last cut's cause when there was one), so a caller
 * never waits more than `attempts × patience`. The attempts still running when it returns are interrupted.
 */
export const deliver = <A, E, R>(request: Effect.Effect<A, E, R>, options?: DeliverOptions): Effect.Effect<A, E, R> =>
  Effect.suspend(() => {
    const attempts = options?.attempts ?? defaultAttempts
    const patience = options?.patience ?? defaultPatience
    const scope = options?.scope
    const pending = new Set<Fiber.RuntimeFiber<A, E>>()
    let lastCut: Cause.Cause<E> | undefined = undefined

    // The first answer among the attempts running; waits for good while none is left (the patience ends it).
    const firstAnswer: Effect.Effect<Exit.Exit<A, E>> = Effect.suspend(() =>
      pending.size === 0
        ? Effect.never
        : Effect.raceAll([...pending].map((fiber) => Effect.map(Fiber.await(fiber), (exit) => [fiber, exit] as const))).pipe(
          Effect.flatMap(([fiber, exit]) => {
            if (answers(exit)) return Effect.succeed(exit)
            pending.delete(fiber)
            if (Exit.isFailure(exit)) lastCut = exit.cause
            return firstAnswer
          })
        )
    )

    const send: Effect.Effect<A, E, R> = Effect.gen(function*() {
      for (let n = 1; ; n++) {
        const attempt = retryCut(request, attempts)
        pending.add(yield* (scope === undefined ? Effect.forkDaemon(attempt) : Effect.forkIn(attempt, scope)))
        const answered = yield* Effect.timeoutOption(firstAnswer, patience)
        if (Option.isSome(answered)) return yield* answered.value
        if (n >= attempts) {
          return yield* lastCut === undefined
            ? Effect.dieMessage(`a cluster request got no answer after ${attempts} attempts`)
            : Effect.failCause(lastCut)
        }
        yield* Effect.logWarning(`a cluster request got no answer within ${Duration.format(Duration.decode(patience))}: sent again`)
      }
    })

    return Effect.ensuring(send, Effect.suspend(() => Effect.forEach(pending, Fiber.interruptFork, { discard: true })))
  })
