// Running effects for the SDK's callbacks: as fibers of the client's FiberSet (interrupted when the client closes),
// interrupted when the SDK aborts the request, and rejecting with the error itself (not a FiberFailure), because
// the SDK turns a rejected McpError into the JSON-RPC error it sends.
import { Cause, Exit, Option } from "effect"
import type { Effect, Fiber } from "effect"

export type RunFork = <A, E>(effect: Effect.Effect<A, E>) => Fiber.RuntimeFiber<A, E>

export const toPromise = (runFork: RunFork) =>
<A, E>(effect: Effect.Effect<A, E>, signal?: AbortSignal): Promise<A> =>
  new Promise((resolve, reject) => {
    const fiber = runFork(effect)
    const abort = () => fiber.unsafeInterruptAsFork(fiber.id())
    signal?.addEventListener("abort", abort, { once: true })
    fiber.addObserver((exit) => {
      signal?.removeEventListener("abort", abort)
      if (Exit.isSuccess(exit)) return resolve(exit.value)
      const failure = Cause.failureOption(exit.cause)
      if (Option.isSome(failure)) return reject(failure.value)
      const defect = Cause.dieOption(exit.cause)
      reject(Option.isSome(defect) ? defect.value : new DOMException("The operation was aborted.", "AbortError"))
    })
  })
