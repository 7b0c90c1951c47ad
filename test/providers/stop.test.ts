import { assert, describe, it } from "@effect/vitest"
import { Deferred, Effect, Exit, Fiber, Redacted, Stream } from "effect"
import type { InferenceRunner } from "@chorus/core"
import { apiKey, chat, request, responses, waitUntil } from "./helpers.js"
import * as Server from "./server.js"

// Stop must abort the HTTP request at once even while the provider sends nothing
// (EFFECT_NOTES: Stream.fromAsyncIterable cannot interrupt a pending next()).
// These tests use real sockets, hence it.live; the latency is printed, not asserted.

const runners: ReadonlyArray<
  readonly [string, (baseURL: string) => Effect.Effect<InferenceRunner.Service>, ReadonlyArray<string>]
> = [
  [
    "OpenAiResponses",
    (baseURL) => responses({ apiKey: Redacted.make(apiKey), baseURL, model: "gpt-5-mini" }),
    Server.fixture("responses/text.sse").slice(0, 5)
  ],
  [
    "OpenAiChatCompletions",
    (baseURL) => chat({ apiKey: Redacted.make(apiKey), baseURL, model: "gpt-4o-mini" }),
    Server.fixture("chat/text.sse").slice(0, 2)
  ]
]

describe("stop", () => {
  for (const [name, make, frames] of runners) {
    it.live(`${name}: interrupting while the provider is silent mid-stream closes the connection`, () =>
      Effect.gen(function*() {
        const server = yield* Server.make
        const runner = yield* make(server.baseURL)
        // Twice: the first interruption in a process pays for cold code paths (undici's abort, JIT).
        for (const attempt of ["first", "second"]) {
          server.reply(Server.sse(frames, "stall"))
          const firstDelta = yield* Deferred.make<void>()
          const fiber = yield* runner.stream(request()).pipe(
            Stream.runForEach((event) =>
              event._tag === "TextDelta" ? Deferred.succeed(firstDelta, undefined) : Effect.void
            ),
            Effect.fork
          )
          yield* Deferred.await(firstDelta)
          const received = server.requests()[server.requests().length - 1]!
          // The server has written everything it will write and now stays silent, connection open.
          yield* Effect.promise(() => received.written)
          let closedAt: number | null = null
          void received.closed.then(() => (closedAt = performance.now()))
          yield* Effect.promise(() => new Promise((resolve) => setImmediate(resolve)))
          assert.isNull(closedAt, "the connection is still open before the interrupt")

          const start = performance.now()
          const exit = yield* Fiber.interrupt(fiber)
          const interruptMs = performance.now() - start
          yield* Effect.promise(() => received.closed).pipe(
            Effect.timeoutFail({
              duration: "10 seconds",
              onTimeout: () => new Error("the server never saw the connection close")
            })
          )
          const closeMs = closedAt! - start
          console.log(
            `[stop latency] ${name} (${attempt} stop in this process): interrupt returned in ${
              interruptMs.toFixed(2)
            } ms; the server saw the connection close ${closeMs.toFixed(2)} ms after the interrupt`
          )
          assert.isTrue(Exit.isInterrupted(exit))
        }
      }).pipe(Effect.scoped))

    it.live(`${name}: interrupting while waiting for the response headers closes the connection`, () =>
      Effect.gen(function*() {
        const server = yield* Server.make
        server.reply(Server.silent)
        const runner = yield* make(server.baseURL)
        const fiber = yield* runner.stream(request()).pipe(Stream.runDrain, Effect.fork)
        yield* waitUntil(() => server.requests().length === 1)
        const exit = yield* Fiber.interrupt(fiber)
        yield* Effect.promise(() => server.requests()[0]!.closed).pipe(
          Effect.timeoutFail({ duration: "10 seconds", onTimeout: () => new Error("the server never saw the connection close") })
        )
        assert.isTrue(Exit.isInterrupted(exit))
      }).pipe(Effect.scoped))
  }
})
