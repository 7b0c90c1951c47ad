import { assert, describe, it } from "@effect/vitest"
import { Chunk, Context, Effect, Layer, Stream } from "effect"
import { ContextItem, Event, InferenceRunner } from "@chorus/core"
import { anthropicLayer, openaiLayer } from "./bridge.js"
import { apiKey, request, weatherTool } from "./helpers.js"
import * as Server from "./server.js"

// The bridge on @effect/ai-anthropic and @effect/ai-openai against a local server speaking each API's
// wire format: what the model's stream becomes, what the bridge sends, and how errors come out.

/** The runner, built in the test's scope (the HTTP client lives as long as it). */
const build = (layer: Layer.Layer<InferenceRunner.InferenceRunner>) =>
  Effect.map(Layer.build(layer), (context) => Context.get(context, InferenceRunner.InferenceRunner))

const anthropic = (server: Server.TestServer) => build(anthropicLayer(server.baseURL))
const openai = (server: Server.TestServer) => build(openaiLayer(server.baseURL))

const parts = (runner: InferenceRunner.Service, req: InferenceRunner.Request) =>
  runner.stream(req).pipe(Stream.runCollect, Effect.map(Chunk.toReadonlyArray))

const history = [
  ContextItem.systemText({ id: "s1", author: "system", text: "Answer with the tools." }),
  ContextItem.userText({ id: "u1", author: "alice", text: "alice: Weather in Paris?" }),
  new ContextItem.Reasoning({
    id: "rs_1",
    author: "assistant",
    status: "completed",
    summary: [],
    content: [new ContextItem.ReasoningText({ text: "The user wants the weather in Paris." })],
    encryptedContent: `effect-ai:${JSON.stringify({ anthropic: { type: "thinking", signature: "sig==" } })}`
  }),
  new ContextItem.FunctionCall({
    id: "fc_1",
    author: "assistant",
    status: "completed",
    callId: "toolu_1",
    name: "get_weather",
    arguments: '{"city":"Paris","unit":"celsius"}'
  }),
  new ContextItem.FunctionCallOutput({
    id: "o1",
    author: "tools",
    status: "completed",
    callId: "toolu_1",
    output: "18°C, sunny",
    isError: false
  }),
  new ContextItem.ModelMessage({
    id: "m1",
    author: "assistant",
    status: "incomplete",
    content: [new ContextItem.OutputText({ text: "Paris is" })]
  })
]

describe("LanguageModelRunner (the @effect/ai bridge)", () => {
  it.live("Anthropic: thinking, text and a tool call become parts; the bridge never runs the tool", () =>
    Effect.gen(function*() {
      const server = yield* Server.make
      server.reply(Server.sse(Server.fixture("anthropic/tool-use.sse")))
      const runner = yield* anthropic(server)
      const out = yield* parts(runner, request({ tools: [weatherTool] }))
      const tags = out.map((part) => part._tag)
      assert.deepStrictEqual(tags, [
        "ItemStart",
        "ReasoningDelta",
        "ReasoningDelta",
        "ItemEnd",
        "ItemStart",
        "TextDelta",
        "TextDelta",
        "ItemEnd",
        "ItemStart",
        "FunctionCallArgumentsDelta",
        "FunctionCallArgumentsDelta",
        "ItemEnd",
        "Finished"
      ])
      const starts = out.filter((part): part is InferenceRunner.ItemStart => part._tag === "ItemStart")
      assert.deepStrictEqual(starts.map((start) => [start.kind, start.callId, start.name]), [
        ["reasoning", null, null],
        ["message", null, null],
        ["function_call", "toolu_01AgentParis00000000000", "get_weather"]
      ])
      const ends = out.filter((part): part is InferenceRunner.ItemEnd => part._tag === "ItemEnd")
      const reasoning = ends[0]!.final
      assert.strictEqual(reasoning?._tag, "Reasoning")
      assert.include(reasoning?._tag === "Reasoning" ? reasoning.encryptedContent : "", "EqQBCgIYAhIMAgentThinkingSignature")
      const call = ends[2]!.final
      assert.deepStrictEqual(
        call?._tag === "FunctionCall" ? JSON.parse(call.arguments) : null,
        { city: "Paris", unit: "celsius" }
      )
      const finished = out[out.length - 1] as InferenceRunner.Finished
      assert.deepStrictEqual([finished.usage.inputTokens, finished.usage.outputTokens, finished.incompleteReason], [
        412,
        96,
        null
      ])
      assert.strictEqual(finished.model, "claude-sonnet-4-5-20250929")

      const [received] = server.requests()
      assert.strictEqual(received!.url, "/v1/messages")
      assert.strictEqual(received!.body.stream, true)
      assert.strictEqual(received!.headers["x-api-key"], apiKey)
      assert.deepStrictEqual(received!.body.tools.map((tool: { name: string }) => tool.name), ["get_weather"])
      assert.deepStrictEqual(received!.body.tools[0].input_schema, weatherTool.parameters)
      // Only one request: the tool call went to Chorus, not to a handler.
      assert.strictEqual(server.requests().length, 1)
    }).pipe(Effect.scoped))

  it.live("Anthropic: items become messages — thinking with its signature, tool use and result, a cut answer marked", () =>
    Effect.gen(function*() {
      const server = yield* Server.make
      server.reply(Server.sse(Server.fixture("anthropic/answer.sse")))
      const runner = yield* anthropic(server)
      yield* parts(runner, request({ items: history, tools: [weatherTool] }))
      const body = server.requests()[0]!.body
      assert.deepStrictEqual(body.system, [{ type: "text", text: "Answer with the tools." }])
      assert.deepStrictEqual(body.messages.map((message: { role: string }) => message.role), [
        "user",
        "assistant",
        "user",
        "assistant"
      ])
      const [thinking, toolUse] = body.messages[1].content
      assert.deepStrictEqual(thinking, {
        type: "thinking",
        thinking: "The user wants the weather in Paris.",
        signature: "sig=="
      })
      assert.deepStrictEqual([toolUse.type, toolUse.id, toolUse.name, toolUse.input], [
        "tool_use",
        "toolu_1",
        "get_weather",
        { city: "Paris", unit: "celsius" }
      ])
      const result = body.messages[2].content[0]
      assert.deepStrictEqual([result.type, result.tool_use_id], ["tool_result", "toolu_1"])
      assert.include(JSON.stringify(body.messages[3].content), "cut off")
    }).pipe(Effect.scoped))

  it.live("Anthropic: an in-stream overloaded_error is a server error with its code; the deltas before it came out", () =>
    Effect.gen(function*() {
      const server = yield* Server.make
      server.reply(Server.sse(Server.fixture("anthropic/overloaded.sse")))
      const runner = yield* anthropic(server)
      const seen: Array<InferenceRunner.Part> = []
      const error = yield* runner.stream(request()).pipe(
        Stream.runForEach((part) => Effect.sync(() => seen.push(part))),
        Effect.flip
      )
      assert.deepStrictEqual(seen.map((part) => part._tag), ["ItemStart", "TextDelta"])
      assert.strictEqual(error.reason, "server")
      assert.strictEqual(error.code, "overloaded_error")
    }).pipe(Effect.scoped))

  it.live("Anthropic: an HTTP 429 keeps its status and code; the key never appears", () =>
    Effect.gen(function*() {
      const server = yield* Server.make
      server.reply(
        Server.error(429, { type: "error", error: { type: "rate_limit_error", message: `Rate limited for ${apiKey}` } })
      )
      const runner = yield* anthropic(server)
      const error = yield* runner.stream(request()).pipe(Stream.runDrain, Effect.flip)
      assert.strictEqual(error.reason, "rate_limit")
      assert.strictEqual(error.status, 429)
      assert.strictEqual(error.code, "rate_limit_error")
      assert.include(error.detail, "Rate limited for")
      assert.notInclude(`${error.message} ${String(error.cause)}`, apiKey)
    }).pipe(Effect.scoped))

  it.live("OpenAI (Responses wire): text deltas and usage through @effect/ai-openai", () =>
    Effect.gen(function*() {
      const server = yield* Server.make
      server.reply(Server.sse(Server.fixture("responses/text.sse")))
      const runner = yield* openai(server)
      const out = yield* parts(runner, request())
      const text = out.flatMap((part) => (part._tag === "TextDelta" ? [part.delta] : [])).join("")
      assert.strictEqual(text, "Hello there!")
      const finished = out[out.length - 1] as InferenceRunner.Finished
      assert.strictEqual(finished._tag, "Finished")
      assert.strictEqual(finished.usage.inputTokens, 1200)
      assert.strictEqual(server.requests()[0]!.url, "/v1/responses")
      assert.instanceOf(out[1], Event.TextDelta)
    }).pipe(Effect.scoped))
})

describe("LanguageModelRunner: garbage from the provider", () => {
  it.live("an event stream that is not the provider's format is a typed error, not a defect", () =>
    Effect.gen(function*() {
      const garbage: ReadonlyArray<ReadonlyArray<string>> = [
        ["event: message_start\ndata: {not json}\n\n"],
        ["event: message_start\ndata: {\"type\":\"message_start\",\"message\":42}\n\n"],
        ["data: 42\n\n"],
        // Cut before message_stop: the answer never finished.
        Server.fixture("anthropic/answer.sse").slice(0, 4)
      ]
      for (const frames of garbage) {
        const server = yield* Server.make
        server.reply(Server.sse(frames))
        const runner = yield* anthropic(server)
        const exit = yield* runner.stream(request()).pipe(Stream.runDrain, Effect.exit)
        assert.isTrue(exit._tag === "Failure", frames[0])
        if (exit._tag === "Failure") {
          const error = exit.cause._tag === "Fail" ? exit.cause.error : null
          assert.isNotNull(error, `a typed failure for ${frames[0]}: ${String(exit.cause)}`)
          assert.notInclude(String(error?.message), apiKey)
        }
      }
    }).pipe(Effect.scoped))
})
