/**
 * Requests the cluster may cut: `@effect/cluster` interrupts every request in flight to a runner it declares
 * unavailable (it closes its client to that runner), and answers a request whose connection broke mid-way
 * with a defect. For an idempotent request both mean "send it again".
 *
 * @internal
 */
import { Cause, Duration, Effect, Fiber, Option } from "effect"
import type { Scope } from "effect"

/** Wait before sending again. */
export const retryDelay = Duration.millis(100)

/**
 * Runs a request again when it was interrupted from outside this fiber. An interruption of this fiber itself
 * is not recovered (Effect does not let a fiber being interrupted catch it), so this never outlives its caller.
 */
export const retryInterrupted = <A, E, R>(request: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
  Effect.catchAllCause(request, (cause) =>
    Cause.isInterruptedOnly(cause)
      ? Effect.zipRight(Effect.sleep(retryDelay), retryInterrupted(request))
      : Effect.failCause(cause))

/**
 * Runs an idempotent request again when the cluster cut it, interrupted or with a defect, waiting longer each
 * time (100 ms doubling up to 2 s), at most `attempts` times (default 30, about a minute); its typed failures are the caller's.
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

/**
 * Sends an idempotent request until it is delivered, as {@link retryCut} does, and also sends it again when an
 * attempt gets no answer within `patience`: a request that the cluster routed to a runner that died can wait
 * forever. The unanswered attempt is left running in `scope` (interrupting it would interrupt the handler on a
 * runner that is only slow); whichever attempt answers first is the answer.
 */
export const deliver = <A, E, R>(
  request: Effect.Effect<A, E, R>,
  options: { readonly scope: Scope.Scope; readonly patience: Duration.DurationInput; readonly attempts?: number }
): Effect.Effect<A, E, R> =>
  Effect.gen(function*() {
    const attempts = options.attempts ?? 30
    const pending: Array<Fiber.RuntimeFiber<A, E>> = []
    for (let n = 1; ; n++) {
      pending.push(yield* Effect.forkIn(retryCut(request, attempts), options.scope))
      const answered = yield* Effect.raceAll(pending.map((fiber) => Fiber.join(fiber))).pipe(
        Effect.timeoutOption(options.patience)
      )
      if (Option.isSome(answered)) return answered.value
      if (n >= attempts) return yield* Effect.dieMessage(`no answer after ${attempts} attempts`)
      yield* Effect.logWarning(`a cluster request got no answer within ${Duration.format(Duration.decode(options.patience))}: sent again`)
    }
  })
