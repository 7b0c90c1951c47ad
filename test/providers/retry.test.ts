import { assert, describe, it } from "@effect/vitest"
import { Chunk, Effect, Fiber, Redacted, Schedule, Stream, TestClock } from "effect"
import { apiKey, assertWellFormed, chat, collect, failure, request, responses, type ResponsesOptions } from "./helpers.js"
import * as Server from "./server.js"

// Retries and time-outs on the TestClock. The HTTP part talks to a real local
// server: its I/O completes in real time, and the test advances the clock only
// once the runner is known to sleep (its wake-up time is in TestClock.sleeps),
// so no assertion depends on real timing.

const textFrames = Server.fixture("responses/text.sse")
const rateLimited = (headers: Record<string, string>) =>
  Server.error(429, { error: { message: "Rate limit reached", type: "requests", code: "rate_limit_exceeded" } }, headers)
const serverError = Server.error(500, { error: { message: "The server had an error", type: "server_error" } })

const makeRunner = (server: Server.TestServer, options: Partial<ResponsesOptions> = {}) =>
  responses({ apiKey: Redacted.make(apiKey), baseURL: server.baseURL, model: "gpt-5-mini", ...options })

/** Waits (polling in real time) until a sleep ends at the given TestClock time: the runner is waiting to retry. */
const sleepingUntil = (time: number) =>
  Effect.gen(function*() {
    while (!Chunk.toReadonlyArray(yield* TestClock.sleeps()).includes(time)) {
      yield* Effect.promise(() => new Promise((resolve) => setTimeout(resolve, 2)))
    }
  })

describe("retries", () => {
  it.effect("a 429 is retried after its retry-after, which wins over a shorter policy delay", () =>
    Effect.gen(function*() {
      const server = yield* Server.make
      server.reply(rateLimited({ "retry-after": "3" }), Server.sse(textFrames))
      const runner = yield* makeRunner(server)
      const fiber = yield* Effect.fork(collect(runner))
      // The default policy would wait 500 ms; the provider asked for 3 s.
      yield* sleepingUntil(3_000)
      yield* TestClock.adjust("2999 millis")
      assert.include(Chunk.toReadonlyArray(yield* TestClock.sleeps()), 3_000, "still waiting")
      assert.strictEqual(server.requests().length, 1)
      yield* TestClock.adjust("1 millis")
      const events = yield* Fiber.join(fiber)
      assertWellFormed(events)
      assert.strictEqual(server.requests().length, 2)
    }).pipe(Effect.scoped))

  it.effect("server errors are retried with exponential delays (0.5 s, then 1 s)", () =>
    Effect.gen(function*() {
      const server = yield* Server.make
      server.reply(serverError, serverError, Server.sse(textFrames))
      const runner = yield* makeRunner(server)
      const fiber = yield* Effect.fork(collect(runner))
      yield* sleepingUntil(500)
      yield* TestClock.adjust("500 millis")
      yield* sleepingUntil(1_500)
      assert.strictEqual(server.requests().length, 2)
      yield* TestClock.adjust("1 second")
      assertWellFormed(yield* Fiber.join(fiber))
      assert.strictEqual(server.requests().length, 3)
    }).pipe(Effect.scoped))

  it.effect("when the policy gives up, the last error comes out", () =>
    Effect.gen(function*() {
      const server = yield* Server.make
      server.reply(serverError, serverError, Server.error(503, "overloaded"))
      const runner = yield* makeRunner(server, { retry: Schedule.recurs(2) })
      const error = yield* failure(runner)
      assert.strictEqual(error.reason, "server")
      assert.strictEqual(error.status, 503)
      assert.strictEqual(server.requests().length, 3)
    }).pipe(Effect.scoped))

  it.effect("the default policy does not wait for a retry-after beyond a minute", () =>
    Effect.gen(function*() {
      const server = yield* Server.make
      server.reply(rateLimited({ "retry-after": "120" }))
      const error = yield* failure(yield* makeRunner(server))
      assert.strictEqual(error.retryAfterMs, 120_000)
      assert.strictEqual(server.requests().length, 1)
    }).pipe(Effect.scoped))

  it.effect("errors that are not transient are never retried", () =>
    Effect.gen(function*() {
      const server = yield* Server.make
      server.reply(Server.error(400, { error: { message: "bad" } }), Server.sse(["data: 42\n\n"]))
      const runner = yield* makeRunner(server, { retry: Schedule.forever })
      assert.strictEqual((yield* failure(runner)).reason, "bad_request")
      assert.strictEqual((yield* failure(runner)).reason, "malformed_stream")
      assert.strictEqual(server.requests().length, 2)
    }).pipe(Effect.scoped))

  it.effect("response.failed before any output is retried, and only the retry's output comes out", () =>
    Effect.gen(function*() {
      const server = yield* Server.make
      const failedEarly = [
        ...textFrames.slice(0, 2),
        `event: response.failed\ndata: ${
          JSON.stringify({ type: "response.failed", sequence_number: 2, response: { error: { code: "server_error", message: "try again" } } })
        }\n\n`
      ]
      server.reply(Server.sse(failedEarly), Server.sse(textFrames))
      const events = yield* collect(yield* makeRunner(server, { retry: Schedule.recurs(1) }))
      assertWellFormed(events)
      assert.strictEqual(events.filter((event) => event._tag === "ItemAdded").length, 1)
      assert.strictEqual(server.requests().length, 2)
    }).pipe(Effect.scoped))

  it.effect("Chat Completions retries a 429 after its retry-after-ms", () =>
    Effect.gen(function*() {
      const server = yield* Server.make
      server.reply(rateLimited({ "retry-after-ms": "2500" }), Server.sse(Server.fixture("chat/text.sse")))
      const runner = yield* chat({ baseURL: server.baseURL, model: "llama3.2" })
      const fiber = yield* Effect.fork(collect(runner))
      yield* sleepingUntil(2_500)
      yield* TestClock.adjust("2500 millis")
      assertWellFormed(yield* Fiber.join(fiber))
      assert.strictEqual(server.requests().length, 2)
    }).pipe(Effect.scoped))
})

describe("idle timeout", () => {
  it.effect("a provider silent for longer than idleTimeout fails the stream with a timeout and closes the connection", () =>
    Effect.gen(function*() {
      const server = yield* Server.make
      server.reply(Server.sse(textFrames.slice(0, 5), "stall"))
      const runner = yield* makeRunner(server, { idleTimeout: "30 seconds" })
      const received: Array<string> = []
      const fiber = yield* runner.stream(request()).pipe(
        Stream.runForEach((event) => Effect.sync(() => received.push(event._tag))),
        Effect.flip,
        Effect.fork
      )
      // Everything the server sent has arrived; the runner now waits for the next event.
      while (received.length < 2) yield* Effect.promise(() => new Promise((resolve) => setTimeout(resolve, 2)))
      while ((yield* Fiber.poll(fiber))._tag === "None") {
        yield* TestClock.adjust("30 seconds")
        yield* Effect.promise(() => new Promise((resolve) => setTimeout(resolve, 2)))
      }
      const error = yield* Fiber.join(fiber)
      assert.strictEqual(error.reason, "timeout")
      assert.include(error.detail, "30s")
      assert.deepStrictEqual(received, ["ItemStart", "TextDelta"])
      // Not retried (output was emitted), and the request was aborted.
      yield* Effect.promise(() => server.requests()[0]!.closed)
      assert.strictEqual(server.requests().length, 1)
    }).pipe(Effect.scoped))
})
