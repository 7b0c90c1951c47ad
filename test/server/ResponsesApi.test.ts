import { assert, describe, it } from "@effect/vitest"
import type { Event } from "@chorus/core"
import { Effect } from "effect"
import OpenAI from "openai"
import { longAnswer, served } from "./support/fixture.js"

const client = (url: string) => new OpenAI({ apiKey: "not-used", baseURL: `${url}/v1`, maxRetries: 0 })

describe("POST /v1/responses read by the official openai SDK", () => {
  it.live("not streamed: the run comes back as a Response", () =>
    Effect.gen(function*() {
      const { url } = yield* served()
      const response = yield* Effect.promise(() => client(url).responses.create({ model: "chorus", input: "hi" }))
      assert.strictEqual(response.status, "completed")
      assert.strictEqual(response.output_text, "Hello back, friend.")
      assert.deepStrictEqual(response.output.map((item) => item.type), ["reasoning", "message"])
      assert.strictEqual(response.model, "scripted")
    }).pipe(Effect.scoped))

  it.live("streamed: Responses events in order, read by the SDK's stream helper", () =>
    Effect.gen(function*() {
      const { url, env } = yield* served()
      const types: Array<string> = []
      let text = ""
      const final = yield* Effect.promise(async () => {
        const stream = client(url).responses.stream({ model: "chorus", input: [{ role: "user", content: "hi" }] })
        for await (const event of stream) {
          types.push(event.type)
          if (event.type === "response.output_text.delta") text += event.delta
        }
        return stream.finalResponse()
      })
      assert.strictEqual(types[0], "response.created")
      assert.strictEqual(types[1], "response.in_progress")
      assert.strictEqual(types[types.length - 1], "response.completed")
      for (const type of ["response.output_item.added", "response.content_part.added", "response.output_text.done", "response.content_part.done", "response.output_item.done", "response.reasoning_summary_text.delta"]) {
        assert.include(types, type)
      }
      assert.strictEqual(text, "Hello back, friend.")
      assert.strictEqual(final.output_text, "Hello back, friend.")
      // The same conversation the environment (and any browser on it) shows.
      const said = yield* env.waitFor((e) => e.payload._tag === "ItemDone" && e.payload.item._tag === "UserMessage")
      assert.strictEqual(said.author, "you")
    }).pipe(Effect.scoped))

  it.live("cancelling a streamed response interrupts the run, keeping the partial answer", () =>
    Effect.gen(function*() {
      const { url, env } = yield* served({ latency: "15 millis" })
      yield* Effect.promise(async () => {
        const stream = await client(url).responses.create({ model: "chorus", input: "be slow", stream: true })
        let deltas = 0
        for await (const event of stream) {
          if (event.type === "response.output_text.delta" && ++deltas === 5) stream.controller.abort()
        }
      }).pipe(Effect.catchAllDefect(() => Effect.void))
      const ended = yield* env.waitFor((e): e is Event.Event & { payload: Event.RunEnded } => e.payload._tag === "RunEnded")
      assert.strictEqual(ended.payload.outcome, "interrupted")
      assert.strictEqual(ended.payload.participant, "assistant")
      const cut = yield* env.waitFor((e) => e.payload._tag === "ItemDone" && e.payload.item._tag === "ModelMessage")
      const item = (cut.payload as Event.ItemDone).item
      assert.strictEqual(item.status, "incomplete")
      assert.isTrue(longAnswer.startsWith((item as { content: ReadonlyArray<{ text: string }> }).content[0]!.text))
    }).pipe(Effect.scoped))

  it.live("aborting a request that waits for the whole response interrupts the run too", () =>
    Effect.gen(function*() {
      const { url, env } = yield* served({ latency: "15 millis" })
      const controller = new AbortController()
      const pending = client(url).responses.create({ model: "chorus", input: "be slow" }, { signal: controller.signal }).catch((e: unknown) => e)
      yield* env.waitFor((e) => e.payload._tag === "TextDelta")
      controller.abort()
      const error = yield* Effect.promise(() => pending)
      assert.instanceOf(error, OpenAI.APIUserAbortError)
      const ended = yield* env.waitFor((e): e is Event.Event & { payload: Event.RunEnded } => e.payload._tag === "RunEnded")
      assert.strictEqual(ended.payload.outcome, "interrupted")
    }).pipe(Effect.scoped))

  it.live("a bad request is an OpenAI-shaped 400 the SDK raises as BadRequestError", () =>
    Effect.gen(function*() {
      const { url, env } = yield* served()
      const before = yield* env.lastSequence
      const error = yield* Effect.promise(() =>
        client(url).responses.create({ model: "chorus", input: [] as never }).catch((e: unknown) => e)
      )
      assert.instanceOf(error, OpenAI.BadRequestError)
      assert.match((error as InstanceType<typeof OpenAI.BadRequestError>).message, /input/)
      assert.strictEqual(yield* env.lastSequence, before)
    }).pipe(Effect.scoped))
})
