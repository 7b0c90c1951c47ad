import { assert, describe, it } from "@effect/vitest"
import { Cause, ConfigProvider, Effect, Redacted, Schedule } from "effect"
import { ContextItem, Event, InferenceRunner } from "@chorus/core"
import { OpenAiChatCompletions } from "@chorus/providers"
import {
  chat,
  type ChatOptions,
  apiKey,
  assertWellFormed,
  collect,
  doneItems,
  failure,
  finished,
  partial,
  request,
  searchTool,
  weatherTool
} from "./helpers.js"
import * as Server from "./server.js"

/** A server replying with the given replies, and a runner on it without retries. */
const setup = (replies: ReadonlyArray<Server.Reply>, options: Partial<ChatOptions> = {}) =>
  Effect.gen(function*() {
    const server = yield* Server.make
    server.reply(...replies)
    const runner = yield* chat({
      apiKey: Redacted.make(apiKey),
      baseURL: server.baseURL,
      model: "gpt-4o-mini",
      retry: Schedule.stop,
      ...options
    })
    return { server, runner }
  })

const textFrames = Server.fixture("chat/text.sse")

describe("OpenAiChatCompletions", () => {
  describe("streams", () => {
    it.live("text: one model message with a stable id, its deltas, then Finished with usage", () =>
      Effect.gen(function*() {
        const { runner } = yield* setup([Server.sse(textFrames)])
        const events = yield* collect(runner)
        assertWellFormed(events)
        const added = events[0] as Event.ItemAdded
        const id = added.item.id
        assert.match(id, /^msg_/)
        assert.deepStrictEqual(events, [
          new Event.ItemAdded({
            item: new ContextItem.ModelMessage({ id, author: "assistant", status: "in_progress", content: [] }),
            runId: null
          }),
          new Event.TextDelta({ itemId: id, contentIndex: 0, delta: "Hello" }),
          new Event.TextDelta({ itemId: id, contentIndex: 0, delta: " there" }),
          new Event.TextDelta({ itemId: id, contentIndex: 0, delta: "!" }),
          new Event.ItemDone({ item: ContextItem.modelText({ id, author: "assistant", text: "Hello there!" }), runId: null }),
          new InferenceRunner.Finished({
            usage: new Event.Usage({
              inputTokens: 1200,
              outputTokens: 5,
              totalTokens: 1205,
              cachedInputTokens: 1024,
              reasoningTokens: 0
            }),
            incompleteReason: null,
            model: "gpt-4o-mini-2024-07-18"
          })
        ])
      }).pipe(Effect.scoped))

    it.live("two responses get different item ids", () =>
      Effect.gen(function*() {
        const { runner } = yield* setup([Server.sse(textFrames), Server.sse(textFrames)])
        const first = doneItems(yield* collect(runner))[0]!
        const second = doneItems(yield* collect(runner))[0]!
        assert.notStrictEqual(first.id, second.id)
      }).pipe(Effect.scoped))

    it.live("parallel tool calls are assembled by index, arguments streamed as they arrive, done at the end", () =>
      Effect.gen(function*() {
        const { runner } = yield* setup([Server.sse(Server.fixture("chat/tool-calls.sse"))])
        const events = yield* collect(runner)
        assertWellFormed(events)
        const calls = doneItems(events) as ReadonlyArray<ContextItem.FunctionCall>
        assert.deepStrictEqual(
          calls.map((call) => [call._tag, call.callId, call.name, JSON.parse(call.arguments), call.status]),
          [
            ["FunctionCall", "call_Paris0001", "get_weather", { city: "Paris" }, "completed"],
            ["FunctionCall", "call_Tokyo0002", "get_weather", { city: "Tokyo" }, "completed"]
          ]
        )
        assert.notStrictEqual(calls[0]!.id, calls[1]!.id)
        // Both calls are streamed before either is done: done only at the end.
        assert.deepStrictEqual(events.map((event) => event._tag), [
          "ItemAdded",
          "FunctionCallArgumentsDelta",
          "FunctionCallArgumentsDelta",
          "FunctionCallArgumentsDelta",
          "ItemAdded",
          "FunctionCallArgumentsDelta",
          "FunctionCallArgumentsDelta",
          "FunctionCallArgumentsDelta",
          "ItemDone",
          "ItemDone",
          "Finished"
        ])
        const deltas = events.flatMap((event) =>
          event._tag === "FunctionCallArgumentsDelta" && event.itemId === calls[1]!.id ? [event.delta] : []
        )
        assert.deepStrictEqual(deltas, ['{"ci', 'ty": "Tok', 'yo"}'])
      }).pipe(Effect.scoped))

    it.live("refusal deltas make a refusal part", () =>
      Effect.gen(function*() {
        const { runner } = yield* setup([Server.sse(Server.fixture("chat/refusal.sse"))])
        const events = yield* collect(runner)
        assertWellFormed(events)
        assert.deepStrictEqual(events.filter((event) => event._tag === "RefusalDelta").map((event) => event.delta), [
          "I'm sorry,",
          " I can't help",
          " with that."
        ])
        const [item] = doneItems(events) as ReadonlyArray<ContextItem.ModelMessage>
        assert.deepStrictEqual(item!.content, [new ContextItem.Refusal({ refusal: "I'm sorry, I can't help with that." })])
      }).pipe(Effect.scoped))

    it.live("finish reason length: the message is incomplete, incompleteReason max_output_tokens", () =>
      Effect.gen(function*() {
        const { runner } = yield* setup([Server.sse(Server.fixture("chat/length.sse"))])
        const events = yield* collect(runner)
        assertWellFormed(events)
        const [item] = doneItems(events)
        assert.strictEqual(item!.status, "incomplete")
        assert.strictEqual(ContextItem.text(item!), "Once upon a time")
        assert.strictEqual(finished(events).incompleteReason, "max_output_tokens")
      }).pipe(Effect.scoped))

    it.live("finish reason content_filter: incomplete, incompleteReason content_filter", () =>
      Effect.gen(function*() {
        const { runner } = yield* setup([Server.sse(Server.fixture("chat/content-filter.sse"))])
        const events = yield* collect(runner)
        assertWellFormed(events)
        assert.strictEqual(doneItems(events)[0]!.status, "incomplete")
        assert.strictEqual(finished(events).incompleteReason, "content_filter")
      }).pipe(Effect.scoped))

    it.live("reasoning_content (vLLM, llama.cpp) becomes a reasoning item, then the answer and a whole tool call", () =>
      Effect.gen(function*() {
        const { runner } = yield* setup([Server.sse(Server.fixture("chat/reasoning-tool.sse"))])
        const events = yield* collect(runner)
        assertWellFormed(events)
        const items = doneItems(events)
        assert.deepStrictEqual(items.map((item) => item._tag), ["Reasoning", "ModelMessage", "FunctionCall"])
        const reasoning = items[0] as ContextItem.Reasoning
        assert.deepStrictEqual(reasoning.content, [new ContextItem.ReasoningText({ text: "The user wants the weather." })])
        assert.strictEqual(ContextItem.text(items[1]!), "Checking.")
        const call = items[2] as ContextItem.FunctionCall
        assert.strictEqual(call.callId, "chatcmpl-tool-9f8e7d")
        assert.deepStrictEqual(JSON.parse(call.arguments), { city: "Oslo" })
        assert.deepStrictEqual(events.filter((event) => event._tag === "ReasoningDelta").length, 3)
        const end = finished(events)
        assert.strictEqual(end.model, "Qwen/Qwen3-8B")
        assert.deepStrictEqual([end.usage.inputTokens, end.usage.outputTokens, end.usage.totalTokens], [200, 60, 260])
      }).pipe(Effect.scoped))

    it.live("a server that sends Ollama's `reasoning` field and no usage still finishes", () =>
      Effect.gen(function*() {
        const chunk = (delta: object, finish: string | null = null) =>
          `data: ${JSON.stringify({ id: "chatcmpl-42", object: "chat.completion.chunk", created: 1, model: "qwen3:8b", system_fingerprint: "fp_ollama", choices: [{ index: 0, delta, finish_reason: finish }] })}\n\n`
        const { runner } = yield* setup([
          Server.sse([
            chunk({ role: "assistant", content: "", reasoning: "Hmm." }),
            chunk({ role: "assistant", content: "Hi!" }),
            chunk({ role: "assistant", content: "" }, "stop"),
            "data: [DONE]\n\n"
          ])
        ])
        const events = yield* collect(runner)
        assertWellFormed(events)
        assert.deepStrictEqual(doneItems(events).map(ContextItem.text), ["", "Hi!"])
        assert.deepStrictEqual(finished(events).usage, Event.Usage.zero)
      }).pipe(Effect.scoped))
  })

  describe("failures", () => {
    it.live("a stream cut before its finish reason is a malformed_stream error", () =>
      Effect.gen(function*() {
        const { runner } = yield* setup([Server.sse(textFrames.slice(0, 3))])
        const { events, error } = yield* partial(runner)
        assert.deepStrictEqual(events.map((event) => event._tag), ["ItemAdded", "TextDelta", "TextDelta"])
        assert.strictEqual(error.reason, "malformed_stream")
        assert.include(error.detail, "finish reason")
      }).pipe(Effect.scoped))

    it.live("a line of invalid JSON is a malformed_stream error", () =>
      Effect.gen(function*() {
        const { runner } = yield* setup([
          Server.sse([...textFrames.slice(0, 2), `data: {"id":"chatcmpl-x","choices":[{"index":0,"delta":{"content":"oops"\n\n`])
        ])
        const { events, error } = yield* partial(runner)
        assert.deepStrictEqual(events.map((event) => event._tag), ["ItemAdded", "TextDelta"])
        assert.strictEqual(error.reason, "malformed_stream")
        assert.include(error.detail, "not JSON")
      }).pipe(Effect.scoped))

    it.live("garbage chunks get clear malformed_stream errors", () =>
      Effect.gen(function*() {
        const cases: ReadonlyArray<readonly [string, string]> = [
          [`data: {"choices":[{"index":0,"delta":{"content":42}}]}\n\n`, "invalid chat completion chunk"],
          [`data: {"choices":"none"}\n\n`, "invalid chat completion chunk"],
          [`data: "hello"\n\n`, "invalid chat completion chunk"],
          [`data: {"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"{}"}}]}}]}\n\n`, "without a function name"],
          // Text chunks that are almost the usual one: the hand check must reject what the schema rejects.
          [`data: {"model":7,"choices":[{"index":0,"delta":{"content":"Hi"}}]}\n\n`, "invalid chat completion chunk"],
          [`data: {"choices":[{"index":"0","delta":{"content":"Hi"}}]}\n\n`, "invalid chat completion chunk"],
          [`data: {"choices":[{"index":0,"delta":{"content":"Hi","refusal":3}}]}\n\n`, "invalid chat completion chunk"],
          [`data: {"choices":[{"index":0,"delta":{"content":"Hi"},"finish_reason":1}]}\n\n`, "invalid chat completion chunk"],
          [`data: {"choices":[{"index":0,"delta":{"content":"Hi"}}],"usage":"lots"}\n\n`, "invalid chat completion chunk"]
        ]
        for (const [garbage, expected] of cases) {
          const { runner } = yield* setup([Server.sse([textFrames[0]!, garbage, ...textFrames.slice(1)])])
          const error = yield* failure(runner)
          assert.strictEqual(error.reason, "malformed_stream", garbage)
          assert.include(error.detail, expected)
        }
      }).pipe(Effect.scoped))

    it.live("an error object inside the stream (vLLM, OpenRouter) is a typed error", () =>
      Effect.gen(function*() {
        const { runner } = yield* setup([
          Server.sse([
            ...textFrames.slice(0, 2),
            `data: {"error":{"object":"error","message":"The model ran out of KV cache","type":"InternalServerError","code":500}}\n\n`
          ])
        ])
        const { events, error } = yield* partial(runner)
        assert.strictEqual(events.length, 2)
        assert.strictEqual(error.reason, "server")
        assert.include(error.detail, "The model ran out of KV cache")
      }).pipe(Effect.scoped))

    it.live("HTTP errors: 400 with the message, 401, 429 with retry-after, 500", () =>
      Effect.gen(function*() {
        const cases: ReadonlyArray<readonly [Server.Reply, InferenceRunner.ErrorReason, number, number | null]> = [
          [Server.error(400, { error: { message: "max_tokens is too large", type: "invalid_request_error" } }), "bad_request", 400, null],
          [Server.error(401, { error: { message: "Invalid API key", type: "invalid_request_error" } }), "authentication", 401, null],
          [Server.error(429, { error: { message: "slow down" } }, { "retry-after": "3" }), "rate_limit", 429, 3000],
          [Server.error(500, "Internal Server Error"), "server", 500, null]
        ]
        for (const [reply, reason, status, retryAfterMs] of cases) {
          const { runner } = yield* setup([reply])
          const error = yield* failure(runner)
          assert.strictEqual(error.reason, reason)
          assert.strictEqual(error.status, status)
          assert.strictEqual(error.retryAfterMs, retryAfterMs)
        }
        const { runner } = yield* setup([Server.error(400, { error: { message: "max_tokens is too large" } })])
        assert.strictEqual((yield* failure(runner)).detail, "max_tokens is too large")
      }).pipe(Effect.scoped))

    it.live("the API key never appears in an error", () =>
      Effect.gen(function*() {
        const echo = `Incorrect API key provided: ${apiKey}.`
        for (const reply of [
          Server.error(401, { error: { message: echo, code: "invalid_api_key" } }),
          Server.sse([...textFrames.slice(0, 2), `data: ${JSON.stringify({ error: { message: echo, code: 401 } })}\n\n`])
        ]) {
          const { runner } = yield* setup([reply])
          const error = yield* failure(runner)
          assert.strictEqual(error.reason, "authentication")
          for (const rendering of [error.detail, JSON.stringify(error), Cause.pretty(Cause.fail(error))]) {
            assert.notInclude(rendering, "CHORUS-SECRET")
          }
        }
      }).pipe(Effect.scoped))
  })

  describe("requests", () => {
    it.live("maps items to messages: calls of a turn share one assistant message, outputs are tool messages, reasoning is skipped", () =>
      Effect.gen(function*() {
        const { server, runner } = yield* setup([Server.sse(textFrames)], {
          temperature: 0.3,
          maxOutputTokens: 500,
          reasoningEffort: "high",
          extraBody: { top_k: 20, chat_template_kwargs: { enable_thinking: false } }
        })
        yield* collect(
          runner,
          request({
            items: [
              ContextItem.systemText({ id: "s1", author: "system", text: "Be brief." }),
              new ContextItem.DeveloperMessage({
                id: "d1",
                author: "system",
                status: "completed",
                content: [new ContextItem.InputText({ text: "Use the tools." })]
              }),
              ContextItem.userText({ id: "u1", author: "alice", text: "[alice] Weather in Paris and news?" }),
              new ContextItem.Reasoning({
                id: "rs_1",
                author: "assistant",
                status: "completed",
                summary: [new ContextItem.SummaryText({ text: "thinking" })],
                content: [],
                encryptedContent: "enc"
              }),
              ContextItem.modelText({ id: "m1", author: "assistant", text: "Checking both." }),
              new ContextItem.FunctionCall({
                id: "fc_1",
                author: "assistant",
                status: "completed",
                callId: "call_1",
                name: "get_weather",
                arguments: '{"city":"Paris","unit":"celsius"}'
              }),
              new ContextItem.FunctionCall({
                id: "fc_2",
                author: "assistant",
                status: "completed",
                callId: "call_2",
                name: "search",
                arguments: '{"query":"news"}'
              }),
              new ContextItem.FunctionCallOutput({
                id: "o1",
                author: "tools",
                status: "completed",
                callId: "call_1",
                output: [new ContextItem.InputText({ text: "18°C" })],
                isError: false
              }),
              new ContextItem.FunctionCallOutput({
                id: "o2",
                author: "tools",
                status: "completed",
                callId: "call_2",
                output: "error: search is down",
                isError: true
              }),
              new ContextItem.UserMessage({
                id: "u2",
                author: "bob",
                status: "completed",
                content: [
                  new ContextItem.InputText({ text: "[bob] And this?" }),
                  new ContextItem.InputImage({ imageUrl: "https://example.com/cat.png", detail: "auto" })
                ]
              }),
              new ContextItem.FunctionCall({
                id: "fc_3",
                author: "assistant",
                status: "completed",
                callId: "call_3",
                name: "search",
                arguments: "{}"
              }),
              new ContextItem.FunctionCallOutput({
                id: "o3",
                author: "tools",
                status: "completed",
                callId: "call_3",
                output: "cancelled",
                isError: true
              })
            ],
            tools: [weatherTool, searchTool],
            options: { toolChoice: "required", parallelToolCalls: true, temperature: 0 }
          })
        )
        const [received] = server.requests()
        assert.strictEqual(received!.url, "/v1/chat/completions")
        assert.strictEqual(received!.headers.authorization, `Bearer ${apiKey}`)
        assert.deepStrictEqual(received!.body, {
          model: "gpt-4o-mini",
          messages: [
            { role: "system", content: "Be brief." },
            { role: "system", content: "Use the tools." },
            { role: "user", content: "[alice] Weather in Paris and news?" },
            {
              role: "assistant",
              content: "Checking both.",
              tool_calls: [
                {
                  id: "call_1",
                  type: "function",
                  function: { name: "get_weather", arguments: '{"city":"Paris","unit":"celsius"}' }
                },
                { id: "call_2", type: "function", function: { name: "search", arguments: '{"query":"news"}' } }
              ]
            },
            { role: "tool", tool_call_id: "call_1", content: "18°C" },
            { role: "tool", tool_call_id: "call_2", content: "error: search is down" },
            {
              role: "user",
              content: [
                { type: "text", text: "[bob] And this?" },
                { type: "image_url", image_url: { url: "https://example.com/cat.png", detail: "auto" } }
              ]
            },
            {
              role: "assistant",
              content: null,
              tool_calls: [{ id: "call_3", type: "function", function: { name: "search", arguments: "{}" } }]
            },
            { role: "tool", tool_call_id: "call_3", content: "cancelled" }
          ],
          stream_options: { include_usage: true },
          tools: [
            {
              type: "function",
              function: {
                name: "get_weather",
                description: weatherTool.description,
                parameters: weatherTool.parameters,
                strict: true
              }
            },
            {
              type: "function",
              function: {
                name: "search",
                description: searchTool.description,
                parameters: searchTool.parameters,
                strict: false
              }
            }
          ],
          tool_choice: "required",
          parallel_tool_calls: true,
          max_tokens: 500,
          temperature: 0,
          reasoning_effort: "high",
          top_k: 20,
          chat_template_kwargs: { enable_thinking: false },
          stream: true
        })
      }).pipe(Effect.scoped))

    it.live("options: developer role, max_completion_tokens, a named tool choice, no usage request", () =>
      Effect.gen(function*() {
        const { server, runner } = yield* setup([Server.sse(textFrames)], {
          developerRole: "developer",
          maxTokensField: "max_completion_tokens",
          includeUsage: false
        })
        yield* collect(
          runner,
          request({
            items: [
              new ContextItem.DeveloperMessage({
                id: "d1",
                author: "system",
                status: "completed",
                content: [new ContextItem.InputText({ text: "Rules." })]
              })
            ],
            tools: [weatherTool],
            options: { toolChoice: { name: "get_weather" }, maxOutputTokens: 64, model: "o4-mini" }
          })
        )
        const body = server.requests()[0]!.body
        assert.deepStrictEqual(body.messages, [{ role: "developer", content: "Rules." }])
        assert.deepStrictEqual(body.tool_choice, { type: "function", function: { name: "get_weather" } })
        assert.strictEqual(body.max_completion_tokens, 64)
        assert.strictEqual(body.max_tokens, undefined)
        assert.strictEqual(body.stream_options, undefined)
        assert.strictEqual(body.model, "o4-mini")
      }).pipe(Effect.scoped))

    it.live("without an API key no Authorization header is sent (local servers)", () =>
      Effect.gen(function*() {
        const server = yield* Server.make
        server.reply(Server.sse(textFrames))
        const runner = yield* chat({ baseURL: server.baseURL, model: "llama3.2" })
        yield* collect(runner)
        assert.strictEqual(server.requests()[0]!.headers.authorization, undefined)
      }).pipe(Effect.scoped))

    it.live("layerConfig reads OPENAI_BASE_URL and OPENAI_MODEL; the key is optional", () =>
      Effect.gen(function*() {
        const server = yield* Server.make
        server.reply(Server.sse(textFrames))
        const runner = yield* InferenceRunner.InferenceRunner.pipe(
          Effect.provide(OpenAiChatCompletions.layerConfig()),
          Effect.withConfigProvider(
            ConfigProvider.fromMap(new Map([["OPENAI_BASE_URL", server.baseURL], ["OPENAI_MODEL", "qwen3:8b"]]))
          )
        )
        assert.strictEqual(runner.model, "qwen3:8b")
        yield* collect(runner)
        const [received] = server.requests()
        assert.strictEqual(received!.body.model, "qwen3:8b")
        assert.strictEqual(received!.headers.authorization, undefined)
      }).pipe(Effect.scoped))
  })

  const hasKey = typeof process.env.OPENAI_API_KEY === "string" && process.env.OPENAI_API_KEY !== ""
  it.live.skipIf(!hasKey)(
    hasKey
      ? "smoke: the real Chat Completions API streams a short answer"
      : "smoke: the real Chat Completions API streams a short answer (skipped: OPENAI_API_KEY is not set)",
    () =>
      Effect.gen(function*() {
        const runner = yield* chat({
          apiKey: Redacted.make(process.env.OPENAI_API_KEY ?? ""),
          model: "gpt-4o-mini",
          maxOutputTokens: 50
        })
        const events = yield* collect(
          runner,
          request({ items: [ContextItem.userText({ id: "u1", author: "alice", text: "Say hello in one word." })] })
        )
        assertWellFormed(events)
        assert.isAbove(finished(events).usage.outputTokens, 0)
      })
  )
})
