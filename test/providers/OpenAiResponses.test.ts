import { assert, describe, it } from "@effect/vitest"
import { Cause, ConfigProvider, Effect, Redacted, Schedule } from "effect"
import { ContextItem, Event, InferenceRunner } from "@chorus/core"
import { OpenAiResponses } from "@chorus/providers"
import { inspect } from "node:util"
import {
  responses,
  type ResponsesOptions,
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

const runner = (server: Server.TestServer, options: Partial<ResponsesOptions> = {}) =>
  responses({ apiKey: Redacted.make(apiKey), baseURL: server.baseURL, model: "gpt-5-mini", ...options })

/** A server replying with the given replies, and a runner on it without retries. */
const setup = (replies: ReadonlyArray<Server.Reply>, options: Partial<ResponsesOptions> = {}) =>
  Effect.gen(function*() {
    const server = yield* Server.make
    server.reply(...replies)
    return { server, runner: yield* runner(server, { retry: Schedule.stop, ...options }) }
  })

const textFrames = Server.fixture("responses/text.sse")
const textId = "msg_0a1b2c3d4e5f6071829300000000001"

const message = (id: string, status: ContextItem.Status, content: ReadonlyArray<ContextItem.OutputPart>) =>
  new ContextItem.ModelMessage({ id, author: "assistant", status, content })

describe("OpenAiResponses", () => {
  describe("streams", () => {
    it.live("text: the item added, its deltas, the item done, then Finished with usage and model", () =>
      Effect.gen(function*() {
        const { runner } = yield* setup([Server.sse(textFrames)])
        const events = yield* collect(runner)
        assertWellFormed(events)
        assert.deepStrictEqual(events, [
          new Event.ItemAdded({ item: message(textId, "in_progress", []), runId: null }),
          new Event.TextDelta({ itemId: textId, contentIndex: 0, delta: "Hello" }),
          new Event.TextDelta({ itemId: textId, contentIndex: 0, delta: " there" }),
          new Event.TextDelta({ itemId: textId, contentIndex: 0, delta: "!" }),
          new Event.ItemDone({
            item: message(textId, "completed", [new ContextItem.OutputText({ text: "Hello there!" })]),
            runId: null
          }),
          new InferenceRunner.Finished({
            usage: new Event.Usage({
              inputTokens: 1200,
              outputTokens: 5,
              totalTokens: 1205,
              cachedInputTokens: 1024,
              reasoningTokens: 0
            }),
            incompleteReason: null,
            model: "gpt-5-mini-2025-08-07"
          })
        ])
      }).pipe(Effect.scoped))

    it.live("reasoning then text: summary deltas, encrypted content kept, reasoning tokens counted", () =>
      Effect.gen(function*() {
        const { runner } = yield* setup([Server.sse(Server.fixture("responses/reasoning-text.sse"))])
        const events = yield* collect(runner)
        assertWellFormed(events)
        const rs = "rs_11aa22bb33cc44dd55ee66ff00000001"
        const summary = "**Adding numbers**\n\nThe user asks for 2+2; that is 4."
        assert.deepStrictEqual(events.slice(0, 5), [
          new Event.ItemAdded({
            item: new ContextItem.Reasoning({
              id: rs,
              author: "assistant",
              status: "in_progress",
              summary: [],
              content: [],
              encryptedContent: null
            }),
            runId: null
          }),
          new Event.ReasoningSummaryDelta({ itemId: rs, summaryIndex: 0, delta: "**Adding numbers**\n\n" }),
          new Event.ReasoningSummaryDelta({ itemId: rs, summaryIndex: 0, delta: "The user asks for 2+2; " }),
          new Event.ReasoningSummaryDelta({ itemId: rs, summaryIndex: 0, delta: "that is 4." }),
          new Event.ItemDone({
            item: new ContextItem.Reasoning({
              id: rs,
              author: "assistant",
              status: "completed",
              summary: [new ContextItem.SummaryText({ text: summary })],
              content: [],
              encryptedContent: "gAAAAABpIjEncryptedReasoningBlob0123456789=="
            }),
            runId: null
          })
        ])
        const items = doneItems(events)
        assert.deepStrictEqual(items.map((item) => item._tag), ["Reasoning", "ModelMessage"])
        assert.strictEqual(ContextItem.text(items[1]!), "2 + 2 = 4.")
        assert.deepStrictEqual(finished(events).usage.reasoningTokens, 64)
      }).pipe(Effect.scoped))

    it.live("parallel function calls: argument deltas keyed by item, each call done with its arguments", () =>
      Effect.gen(function*() {
        const { runner } = yield* setup([Server.sse(Server.fixture("responses/function-calls.sse"))])
        const events = yield* collect(runner)
        assertWellFormed(events)
        const calls = doneItems(events) as ReadonlyArray<ContextItem.FunctionCall>
        assert.deepStrictEqual(
          calls.map((call) => [call._tag, call.id, call.callId, call.name, JSON.parse(call.arguments), call.status]),
          [
            ["FunctionCall", "fc_68a0000000000000000000000000001", "call_Paris0001", "get_weather", {
              city: "Paris",
              unit: "celsius"
            }, "completed"],
            ["FunctionCall", "fc_68a0000000000000000000000000002", "call_Tokyo0002", "get_weather", {
              city: "Tokyo",
              unit: "celsius"
            }, "completed"]
          ]
        )
        for (const call of calls) {
          const deltas = events.flatMap((event) =>
            event._tag === "FunctionCallArgumentsDelta" && event.itemId === call.id ? [event.delta] : []
          )
          assert.strictEqual(deltas.length, 3)
          assert.strictEqual(deltas.join(""), call.arguments)
        }
        const added = events.find((event) => event._tag === "ItemAdded")
        assert.deepStrictEqual(
          added,
          new Event.ItemAdded({
            item: new ContextItem.FunctionCall({
              id: "fc_68a0000000000000000000000000001",
              author: "assistant",
              status: "in_progress",
              callId: "call_Paris0001",
              name: "get_weather",
              arguments: ""
            }),
            runId: null
          })
        )
      }).pipe(Effect.scoped))

    it.live("refusal: refusal deltas and a refusal part", () =>
      Effect.gen(function*() {
        const { runner } = yield* setup([Server.sse(Server.fixture("responses/refusal.sse"))])
        const events = yield* collect(runner)
        assertWellFormed(events)
        const id = "msg_ref0000000000000000000000000001"
        assert.deepStrictEqual(
          events.filter((event) => event._tag === "RefusalDelta"),
          ["I'm sorry,", " I can't help", " with that."].map((delta) =>
            new Event.RefusalDelta({ itemId: id, contentIndex: 0, delta })
          )
        )
        assert.deepStrictEqual(doneItems(events), [
          message(id, "completed", [new ContextItem.Refusal({ refusal: "I'm sorry, I can't help with that." })])
        ])
      }).pipe(Effect.scoped))

    it.live("incomplete: the item is incomplete and Finished says max_output_tokens", () =>
      Effect.gen(function*() {
        const { runner } = yield* setup([Server.sse(Server.fixture("responses/incomplete.sse"))])
        const events = yield* collect(runner)
        assertWellFormed(events)
        assert.deepStrictEqual(doneItems(events), [
          message("msg_inc0000000000000000000000000001", "incomplete", [
            new ContextItem.OutputText({ text: "Once upon a time" })
          ])
        ])
        const end = finished(events)
        assert.strictEqual(end.incompleteReason, "max_output_tokens")
        assert.strictEqual(end.usage.outputTokens, 16)
      }).pipe(Effect.scoped))

    it.live("unknown event types, keep-alives, comments and hosted-tool items are ignored", () =>
      Effect.gen(function*() {
        const { runner } = yield* setup([Server.sse(Server.fixture("responses/unknown-events.sse"))])
        const events = yield* collect(runner)
        assertWellFormed(events)
        assert.deepStrictEqual(events.map((event) => event._tag), [
          "ItemAdded",
          "TextDelta",
          "TextDelta",
          "ItemDone",
          "Finished"
        ])
        assert.strictEqual(ContextItem.text(doneItems(events)[0]!), "Sunny today.")
      }).pipe(Effect.scoped))

    it.live("an item still open at response.completed is closed from its deltas", () =>
      Effect.gen(function*() {
        // A lenient server that never sends output_item.done.
        const frames = textFrames.filter((frame) => !frame.startsWith("event: response.output_item.done"))
        const { runner } = yield* setup([Server.sse(frames)])
        const events = yield* collect(runner)
        assertWellFormed(events)
        assert.deepStrictEqual(doneItems(events), [
          message(textId, "completed", [new ContextItem.OutputText({ text: "Hello there!" })])
        ])
      }).pipe(Effect.scoped))
  })

  describe("failures", () => {
    it.live("response.failed after some output: a typed error, the partial output was streamed, no retry", () =>
      Effect.gen(function*() {
        const { server, runner } = yield* setup([Server.sse(Server.fixture("responses/failed.sse"))], {
          retry: Schedule.recurs(3)
        })
        const { events, error } = yield* partial(runner)
        assert.deepStrictEqual(events.map((event) => event._tag), ["ItemAdded", "TextDelta"])
        assert.strictEqual(error.reason, "server")
        assert.include(error.detail, "The model produced invalid content")
        assert.strictEqual(server.requests().length, 1)
      }).pipe(Effect.scoped))

    it.live("an in-stream error event: a typed error with the provider's message", () =>
      Effect.gen(function*() {
        const { runner } = yield* setup([Server.sse(Server.fixture("responses/error-event.sse"))])
        const { events, error } = yield* partial(runner)
        assert.deepStrictEqual(events.map((event) => event._tag), ["ItemAdded", "TextDelta"])
        assert.strictEqual(error.reason, "rate_limit")
        assert.include(error.detail, "Rate limit reached for gpt-5-mini")
      }).pipe(Effect.scoped))

    it.live("a stream that ends before its terminal event is a malformed_stream error", () =>
      Effect.gen(function*() {
        const frames = textFrames.slice(0, -1)
        const { runner } = yield* setup([Server.sse(frames)])
        const { events, error } = yield* partial(runner)
        assert.strictEqual(events.length, 5, "the output before the cut was streamed")
        assert.strictEqual(error.reason, "malformed_stream")
        assert.include(error.detail, "ended before the response was completed")
      }).pipe(Effect.scoped))

    it.live("a connection reset mid-stream is a connection error, not retried once output was emitted", () =>
      Effect.gen(function*() {
        const { server, runner } = yield* setup([Server.sse(textFrames.slice(0, 5), "destroy")], {
          retry: Schedule.recurs(3)
        })
        const { events, error } = yield* partial(runner)
        assert.deepStrictEqual(events.map((event) => event._tag), ["ItemAdded", "TextDelta"])
        assert.strictEqual(error.reason, "connection")
        assert.isTrue(error.isTransient)
        assert.strictEqual(server.requests().length, 1)
      }).pipe(Effect.scoped))

    it.live("a line of invalid JSON is a malformed_stream error", () =>
      Effect.gen(function*() {
        const broken = `event: response.output_text.delta\ndata: {"type":"response.output_text.delta","item_id":"${textId}","delta":"Hel\n\n`
        const { runner } = yield* setup([Server.sse([...textFrames.slice(0, 4), broken, ...textFrames.slice(4)])])
        const { events, error } = yield* partial(runner)
        assert.deepStrictEqual(events.map((event) => event._tag), ["ItemAdded"])
        assert.strictEqual(error.reason, "malformed_stream")
        assert.include(error.detail, "not JSON")
      }).pipe(Effect.scoped))

    it.live("garbage events get clear malformed_stream errors", () =>
      Effect.gen(function*() {
        const head = textFrames.slice(0, 4)
        const cases: ReadonlyArray<readonly [string, string]> = [
          [`data: 42\n\n`, "an event without a type"],
          [`data: {"type":"response.output_text.delta","item_id":"${textId}","content_index":0}\n\n`, "invalid response.output_text.delta"],
          [`data: {"type":"response.output_text.delta","item_id":"msg_nope","content_index":0,"delta":"x"}\n\n`, "came before item msg_nope started"],
          [`data: {"type":"response.function_call_arguments.delta","item_id":"${textId}","delta":"{"}\n\n`, "does not fit item"],
          [`data: {"type":"response.output_item.added","item":{"type":"function_call","id":"fc_1"}}\n\n`, "a function_call item without a call_id and a name"],
          [`data: {"type":"response.completed","response":{"usage":{"input_tokens":"many"}}}\n\n`, "invalid response.completed"]
        ]
        for (const [garbage, expected] of cases) {
          const { runner } = yield* setup([Server.sse([...head, garbage, ...textFrames.slice(4)])])
          const error = yield* failure(runner)
          assert.strictEqual(error.reason, "malformed_stream", garbage)
          assert.include(error.detail, expected)
        }
      }).pipe(Effect.scoped))

    it.live("a 200 answer that is not an event stream is a malformed_stream error", () =>
      Effect.gen(function*() {
        const { runner } = yield* setup([Server.sse([`{"id":"resp_1","object":"response","status":"completed"}`])])
        const error = yield* failure(runner)
        assert.strictEqual(error.reason, "malformed_stream")
      }).pipe(Effect.scoped))
  })

  describe("HTTP errors", () => {
    it.live("400: bad_request with the provider's message, not retried", () =>
      Effect.gen(function*() {
        const { server, runner } = yield* setup([
          Server.error(400, {
            error: {
              message: "Invalid 'input[0].content[1].image_url': Expected a base64-encoded data URL.",
              type: "invalid_request_error",
              param: "input[0].content[1].image_url",
              code: "invalid_value"
            }
          })
        ], { retry: undefined })
        const error = yield* failure(runner)
        assert.strictEqual(error.reason, "bad_request")
        assert.strictEqual(error.status, 400)
        assert.strictEqual(error.detail, "Invalid 'input[0].content[1].image_url': Expected a base64-encoded data URL.")
        assert.include(error.message, "bad_request 400")
        assert.strictEqual(server.requests().length, 1)
      }).pipe(Effect.scoped))

    it.live("401 and 403: authentication, not retried", () =>
      Effect.gen(function*() {
        for (const status of [401, 403]) {
          const { server, runner } = yield* setup([
            Server.error(status, { error: { message: "You are not allowed", type: "invalid_request_error" } })
          ], { retry: undefined })
          const error = yield* failure(runner)
          assert.strictEqual(error.reason, "authentication")
          assert.strictEqual(error.status, status)
          assert.isFalse(error.isTransient)
          assert.strictEqual(server.requests().length, 1)
        }
      }).pipe(Effect.scoped))

    it.live("429: rate_limit with retryAfterMs from retry-after (seconds) or retry-after-ms", () =>
      Effect.gen(function*() {
        const body = { error: { message: "Rate limit reached", type: "requests", code: "rate_limit_exceeded" } }
        const seconds = yield* setup([Server.error(429, body, { "retry-after": "7" })])
        const a = yield* failure(seconds.runner)
        assert.strictEqual(a.reason, "rate_limit")
        assert.strictEqual(a.status, 429)
        assert.strictEqual(a.retryAfterMs, 7000)
        assert.strictEqual(a.detail, "Rate limit reached")
        const millis = yield* setup([Server.error(429, body, { "retry-after-ms": "1500", "retry-after": "2" })])
        const b = yield* failure(millis.runner)
        assert.strictEqual(b.retryAfterMs, 1500)
      }).pipe(Effect.scoped))

    it.live("500 and 503: server errors, with a text body too", () =>
      Effect.gen(function*() {
        const json = yield* setup([
          Server.error(500, { error: { message: "The server had an error while processing your request.", type: "server_error" } })
        ])
        const a = yield* failure(json.runner)
        assert.strictEqual(a.reason, "server")
        assert.strictEqual(a.status, 500)
        assert.include(a.detail, "The server had an error")
        const text = yield* setup([Server.error(503, "upstream connect error")])
        const b = yield* failure(text.runner)
        assert.strictEqual(b.reason, "server")
        assert.strictEqual(b.status, 503)
        assert.strictEqual(b.detail, "upstream connect error")
      }).pipe(Effect.scoped))

    it.live("a server that is not there: a connection error", () =>
      Effect.gen(function*() {
        const baseURL = yield* Effect.scoped(Effect.map(Server.make, (server) => server.baseURL))
        const closed = yield* responses({
          apiKey: Redacted.make(apiKey),
          baseURL,
          model: "gpt-5-mini",
          retry: Schedule.stop
        })
        const error = yield* failure(closed)
        assert.strictEqual(error.reason, "connection")
        assert.include(error.detail, "ECONNREFUSED")
      }))

    it.live("the API key never appears in an error, its cause or its rendering", () =>
      Effect.gen(function*() {
        const echo = `Incorrect API key provided: ${apiKey}. You can find your API key at https://platform.openai.com.`
        const replies: ReadonlyArray<Server.Reply> = [
          Server.error(401, { error: { message: echo, type: "invalid_request_error", code: "invalid_api_key" } }),
          Server.error(400, `bad header: Authorization: Bearer ${apiKey}`),
          Server.sse([
            ...textFrames.slice(0, 2),
            `event: error\ndata: ${JSON.stringify({ type: "error", code: "invalid_api_key", message: echo })}\n\n`
          ]),
          Server.sse([
            ...textFrames.slice(0, 2),
            `event: response.failed\ndata: ${
              JSON.stringify({ type: "response.failed", response: { error: { code: "server_error", message: echo } } })
            }\n\n`
          ]),
          Server.sse([...textFrames.slice(0, 2), `data: {"error":{"message":"${echo}","code":"invalid_api_key"}}\n\n`])
        ]
        for (const reply of replies) {
          const { runner } = yield* setup([reply])
          const error = yield* failure(runner)
          assert.include(error.detail, "<redacted>", "the echoed key was replaced")
          const renderings = [
            error.detail,
            error.message,
            JSON.stringify(error),
            Cause.pretty(Cause.fail(error)),
            inspect(error, { depth: 10 }),
            inspect(error.cause, { depth: 10 })
          ]
          for (const rendering of renderings) assert.notInclude(rendering, "CHORUS-SECRET")
        }
      }).pipe(Effect.scoped))
  })

  describe("requests", () => {
    it.live("maps every item, the tools with their strictness, and the options over the layer's defaults", () =>
      Effect.gen(function*() {
        const { server, runner } = yield* setup([Server.sse(textFrames)], {
          temperature: 0.2,
          maxOutputTokens: 1000,
          reasoningEffort: "low",
          parallelToolCalls: true,
          reasoningSummary: "auto",
          extraBody: { service_tier: "flex", prompt_cache_key: "chorus" }
        })
        const calls = '{"city":"Paris","unit":"celsius"}'
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
              new ContextItem.UserMessage({
                id: "u1",
                author: "bob",
                status: "completed",
                content: [
                  new ContextItem.InputText({ text: "[bob] What is this, and the weather in Paris?" }),
                  new ContextItem.InputImage({ imageUrl: "data:image/png;base64,iVBORw0KGgo=", detail: "low" })
                ]
              }),
              new ContextItem.Reasoning({
                id: "rs_1",
                author: "assistant",
                status: "completed",
                summary: [new ContextItem.SummaryText({ text: "Need the weather." })],
                content: [],
                encryptedContent: "gAAAAB-encrypted"
              }),
              new ContextItem.Reasoning({
                id: "rs_foreign",
                author: "assistant",
                status: "completed",
                summary: [new ContextItem.SummaryText({ text: "No encrypted content: not sent." })],
                content: [],
                encryptedContent: null
              }),
              ContextItem.modelText({ id: "msg_1", author: "assistant", text: "Let me check." }),
              new ContextItem.FunctionCall({
                id: "fc_1",
                author: "assistant",
                status: "completed",
                callId: "call_1",
                name: "get_weather",
                arguments: calls
              }),
              new ContextItem.FunctionCall({
                id: "fc_2",
                author: "assistant",
                status: "completed",
                callId: "call_2",
                name: "search",
                arguments: '{"query":"paris"}'
              }),
              new ContextItem.FunctionCallOutput({
                id: "o1",
                author: "tools",
                status: "completed",
                callId: "call_1",
                output: "18°C, sunny",
                isError: false
              }),
              new ContextItem.FunctionCallOutput({
                id: "o2",
                author: "tools",
                status: "completed",
                callId: "call_2",
                output: "search failed: timed out",
                isError: true
              }),
              new ContextItem.ModelMessage({ id: "msg_2", author: "assistant", status: "incomplete", content: [] })
            ],
            tools: [weatherTool, searchTool],
            options: { model: "gpt-5", maxOutputTokens: 50, toolChoice: { name: "get_weather" }, parallelToolCalls: false }
          })
        )
        const [received] = server.requests()
        assert.strictEqual(received!.method, "POST")
        assert.strictEqual(received!.url, "/v1/responses")
        assert.strictEqual(received!.headers.authorization, `Bearer ${apiKey}`)
        assert.deepStrictEqual(received!.body, {
          model: "gpt-5",
          input: [
            { type: "message", role: "system", content: [{ type: "input_text", text: "Be brief." }] },
            { type: "message", role: "developer", content: [{ type: "input_text", text: "Use the tools." }] },
            {
              type: "message",
              role: "user",
              content: [
                { type: "input_text", text: "[bob] What is this, and the weather in Paris?" },
                { type: "input_image", image_url: "data:image/png;base64,iVBORw0KGgo=", detail: "low" }
              ]
            },
            {
              type: "reasoning",
              summary: [{ type: "summary_text", text: "Need the weather." }],
              encrypted_content: "gAAAAB-encrypted"
            },
            {
              type: "message",
              role: "assistant",
              content: [{ type: "output_text", text: "Let me check.", annotations: [] }]
            },
            { type: "function_call", call_id: "call_1", name: "get_weather", arguments: calls },
            { type: "function_call", call_id: "call_2", name: "search", arguments: '{"query":"paris"}' },
            { type: "function_call_output", call_id: "call_1", output: "18°C, sunny" },
            { type: "function_call_output", call_id: "call_2", output: "search failed: timed out" }
          ],
          store: false,
          include: ["reasoning.encrypted_content"],
          tools: [
            {
              type: "function",
              name: "get_weather",
              description: weatherTool.description,
              parameters: weatherTool.parameters,
              strict: true
            },
            {
              type: "function",
              name: "search",
              description: searchTool.description,
              parameters: searchTool.parameters,
              strict: false
            }
          ],
          tool_choice: { type: "function", name: "get_weather" },
          parallel_tool_calls: false,
          max_output_tokens: 50,
          temperature: 0.2,
          reasoning: { effort: "low", summary: "auto" },
          service_tier: "flex",
          prompt_cache_key: "chorus",
          stream: true
        })
      }).pipe(Effect.scoped))

    it.live("with store on, item ids are sent; without tools, no tool options are sent", () =>
      Effect.gen(function*() {
        const { server, runner } = yield* setup([Server.sse(textFrames)], { store: true, toolChoice: "required" })
        yield* collect(
          runner,
          request({
            items: [
              ContextItem.userText({ id: "u1", author: "alice", text: "Hi" }),
              new ContextItem.Reasoning({
                id: "rs_1",
                author: "assistant",
                status: "completed",
                summary: [],
                content: [],
                encryptedContent: null
              }),
              ContextItem.modelText({ id: "msg_1", author: "assistant", text: "Hello" })
            ],
            options: { parallelToolCalls: true }
          })
        )
        assert.deepStrictEqual(server.requests()[0]!.body, {
          model: "gpt-5-mini",
          input: [
            { type: "message", role: "user", content: [{ type: "input_text", text: "Hi" }] },
            { type: "reasoning", id: "rs_1", summary: [] },
            {
              type: "message",
              role: "assistant",
              id: "msg_1",
              content: [{ type: "output_text", text: "Hello", annotations: [] }]
            }
          ],
          store: true,
          stream: true
        })
      }).pipe(Effect.scoped))

    it.live("the reasoning of one turn goes back with its encrypted content on the next", () =>
      Effect.gen(function*() {
        const { server, runner } = yield* setup([
          Server.sse(Server.fixture("responses/reasoning-text.sse")),
          Server.sse(textFrames)
        ])
        const first = request()
        const produced = doneItems(yield* collect(runner, first))
        yield* collect(runner, request({ items: [...first.items, ...produced, ContextItem.userText({ id: "u2", author: "alice", text: "And 3+3?" })] }))
        const input = server.requests()[1]!.body.input
        assert.deepStrictEqual(input.map((item: { type: string }) => item.type), ["message", "reasoning", "message", "message"])
        assert.strictEqual(input[1].encrypted_content, "gAAAAABpIjEncryptedReasoningBlob0123456789==")
      }).pipe(Effect.scoped))
  })

  describe("configuration", () => {
    it.live("layerConfig reads OPENAI_API_KEY, OPENAI_BASE_URL and OPENAI_MODEL", () =>
      Effect.gen(function*() {
        const server = yield* Server.make
        server.reply(Server.sse(textFrames))
        const provider = new Map([
          ["OPENAI_API_KEY", apiKey],
          ["OPENAI_BASE_URL", server.baseURL],
          ["OPENAI_MODEL", "gpt-5-nano"]
        ])
        const runner = yield* InferenceRunner.InferenceRunner.pipe(
          Effect.provide(OpenAiResponses.layerConfig()),
          Effect.withConfigProvider(ConfigProvider.fromMap(provider))
        )
        assert.strictEqual(runner.model, "gpt-5-nano")
        yield* collect(runner)
        const [received] = server.requests()
        assert.strictEqual(received!.headers.authorization, `Bearer ${apiKey}`)
        assert.strictEqual(received!.body.model, "gpt-5-nano")
      }).pipe(Effect.scoped))

    it.live("layerConfig without OPENAI_API_KEY fails with a ConfigError that names it", () =>
      Effect.gen(function*() {
        const error = yield* InferenceRunner.InferenceRunner.pipe(
          Effect.provide(OpenAiResponses.layerConfig({ model: "gpt-5" })),
          Effect.withConfigProvider(ConfigProvider.fromMap(new Map())),
          Effect.flip
        )
        assert.include(String(error), "OPENAI_API_KEY")
      }))
  })

  const hasKey = typeof process.env.OPENAI_API_KEY === "string" && process.env.OPENAI_API_KEY !== ""
  it.live.skipIf(!hasKey)(
    hasKey
      ? "smoke: the real Responses API streams a short answer"
      : "smoke: the real Responses API streams a short answer (skipped: OPENAI_API_KEY is not set)",
    () =>
      Effect.gen(function*() {
        const runner = yield* responses({
          apiKey: Redacted.make(process.env.OPENAI_API_KEY ?? ""),
          model: process.env.OPENAI_MODEL ?? "gpt-5-mini",
          maxOutputTokens: 400
        })
        const events = yield* collect(runner, request({ items: [ContextItem.userText({ id: "u1", author: "alice", text: "Say hello in one word." })] }))
        assertWellFormed(events)
        assert.isAbove(finished(events).usage.outputTokens, 0)
      })
  )
})
