import { assert } from "@effect/vitest"
import { Chunk, Effect, Either, Stream } from "effect"
import { ContextItem, InferenceRunner } from "@chorus/core"
import type { Tool } from "@chorus/core"
import { OpenAiChatCompletions, OpenAiClient, OpenAiResponses } from "@chorus/providers"
import * as Assemble from "../../packages/core/src/internal/inference/assemble.js"

const clientKeys = ["apiKey", "baseURL", "organization", "project", "headers", "retry", "idleTimeout"] as const

/** Splits options into the client's and the runner's. */
const split = <O extends OpenAiClient.Options>(options: O) => {
  const client: Record<string, unknown> = {}
  const runner: Record<string, unknown> = {}
  for (const [key, value] of Object.entries(options)) {
    if ((clientKeys as ReadonlyArray<string>).includes(key)) client[key] = value
    else runner[key] = value
  }
  return { client: client as OpenAiClient.Options, runner }
}

export type ResponsesOptions = OpenAiResponses.Options & OpenAiClient.Options
export type ChatOptions = OpenAiChatCompletions.Options & OpenAiClient.Options

/** A Responses runner on its own client. */
export const responses = (options: ResponsesOptions) => {
  const { client, runner } = split(options)
  return OpenAiResponses.make(runner as unknown as OpenAiResponses.Options).pipe(
    Effect.provide(OpenAiClient.layer(client))
  )
}

/** A Chat Completions runner on its own client. */
export const chat = (options: ChatOptions) => {
  const { client, runner } = split(options)
  return OpenAiChatCompletions.make(runner as unknown as OpenAiChatCompletions.Options).pipe(
    Effect.provide(OpenAiClient.layer(client))
  )
}

/** What subscribers see of a runner's parts: assembled by core into item events, then `Finished`. */
export type StreamEvent = InferenceRunner.StreamEvent

/** A runner's parts as core assembles them (order checked), with `Finished` last. */
export const assembled = (
  parts: Stream.Stream<InferenceRunner.Part, InferenceRunner.InferenceError>,
  agent = "assistant"
): Stream.Stream<StreamEvent, InferenceRunner.InferenceError> =>
  parts.pipe(
    Stream.mapAccumEffect(Assemble.empty(agent, null), (assembly, part) => {
      const step = Assemble.step(assembly, part)
      if (Either.isLeft(step)) return Effect.fail(step.left)
      const out = step.right as ReadonlyArray<StreamEvent>
      return Effect.succeed([assembly, part._tag === "Finished" ? [...out, part] : out] as const)
    }),
    Stream.flattenIterables
  )

/** The API key of the tests: it must never appear in an error. */
export const apiKey = "sk-test-CHORUS-SECRET-0123456789abcdefghij"

export const request = (
  overrides: Partial<InferenceRunner.Request> = {}
): InferenceRunner.Request => ({
  agent: "assistant",
  runId: "run_1",
  items: [ContextItem.userText({ id: "u1", author: "alice", text: "Hi" })],
  tools: [],
  options: {},
  ...overrides
})

export const weatherTool: Tool.Definition = {
  name: "get_weather",
  description: "The weather in a city",
  parameters: {
    type: "object",
    properties: { city: { type: "string" }, unit: { type: "string", enum: ["celsius", "fahrenheit"] } },
    required: ["city", "unit"],
    additionalProperties: false
  },
  strict: true,
  annotations: {},
  approval: "never"
}

export const searchTool: Tool.Definition = {
  name: "search",
  description: "Searches the web",
  parameters: { type: "object", properties: { query: { type: "string" } } },
  strict: false,
  annotations: {},
  approval: "never"
}

export const collect = (runner: InferenceRunner.Service, req: InferenceRunner.Request = request()) =>
  assembled(runner.stream(req)).pipe(Stream.runCollect, Effect.map(Chunk.toReadonlyArray))

export const failure = (runner: InferenceRunner.Service, req: InferenceRunner.Request = request()) =>
  assembled(runner.stream(req)).pipe(Stream.runDrain, Effect.flip)

/** Events emitted before a stream failed, and its error. */
export const partial = (runner: InferenceRunner.Service, req: InferenceRunner.Request = request()) =>
  Effect.gen(function*() {
    const events: Array<StreamEvent> = []
    const error = yield* assembled(runner.stream(req)).pipe(
      Stream.runForEach((event) => Effect.sync(() => events.push(event))),
      Effect.flip
    )
    return { events, error }
  })

/**
 * Checks the stream contract: each item is added once (in progress, by the
 * agent, no run id) before its deltas, done once after them, and `Finished`
 * comes once, last.
 */
export const assertWellFormed = (
  events: ReadonlyArray<StreamEvent>,
  agent = "assistant",
  complete = true
) => {
  const open = new Set<string>()
  const closed = new Set<string>()
  events.forEach((event, index) => {
    switch (event._tag) {
      case "ItemAdded":
        assert.isFalse(open.has(event.item.id) || closed.has(event.item.id), `${event.item.id} added twice`)
        assert.strictEqual(event.item.status, "in_progress")
        assert.strictEqual(event.item.author, agent)
        assert.isNull(event.runId)
        open.add(event.item.id)
        break
      case "ItemDone":
        assert.isTrue(open.has(event.item.id), `${event.item.id} done but not open`)
        assert.notStrictEqual(event.item.status, "in_progress")
        assert.strictEqual(event.item.author, agent)
        open.delete(event.item.id)
        closed.add(event.item.id)
        break
      case "Finished":
        assert.strictEqual(index, events.length - 1, "Finished is last")
        break
      default:
        assert.isTrue(open.has(event.itemId), `a ${event._tag} for ${event.itemId}, which is not open`)
    }
  })
  if (complete) {
    assert.strictEqual(open.size, 0, "every item is done")
    assert.strictEqual(events.filter((event) => event._tag === "Finished").length, 1)
  }
}

export const doneItems = (events: ReadonlyArray<StreamEvent>) =>
  events.flatMap((event) => (event._tag === "ItemDone" ? [event.item] : []))

export const finished = (events: ReadonlyArray<StreamEvent>) => {
  const last = events[events.length - 1]
  assert.strictEqual(last?._tag, "Finished")
  return last as InferenceRunner.Finished
}

/** Waits (in real time, without touching the clock) until a condition holds. */
export const waitUntil = (condition: () => boolean | Promise<boolean>): Effect.Effect<void> =>
  Effect.promise(async () => {
    while (!(await condition())) await new Promise((resolve) => setTimeout(resolve, 2))
  })
