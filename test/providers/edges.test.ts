import { assert, describe, it } from "@effect/vitest"
import { Effect, Redacted, Schedule } from "effect"
import { ContextItem } from "@chorus/core"
import { apiKey, assertWellFormed, chat, collect, doneItems, failure, request, responses } from "./helpers.js"
import * as Server from "./server.js"

// The edges issue 18 names, each found on the former runners.

const chunk = (delta: unknown, finish: string | null = null) =>
  `data: ${JSON.stringify({ model: "qwen3", choices: [{ index: 0, delta, finish_reason: finish }] })}\n\n`

const event = (payload: Record<string, unknown>) => `event: ${payload.type}\ndata: ${JSON.stringify(payload)}\n\n`

const responsesRunner = (server: Server.TestServer) =>
  responses({ apiKey: Redacted.make(apiKey), baseURL: server.baseURL, model: "gpt-5-mini", retry: Schedule.stop })
const chatRunner = (server: Server.TestServer) =>
  chat({ apiKey: Redacted.make(apiKey), baseURL: server.baseURL, model: "qwen3", retry: Schedule.stop })

describe("provider edges", () => {
  it.live("Chat Completions: a new call id at an occupied index starts a new call (none is lost or merged)", () =>
    Effect.gen(function*() {
      const server = yield* Server.make
      server.reply(Server.sse([
        chunk({ tool_calls: [{ index: 0, id: "call_a", type: "function", function: { name: "get_weather", arguments: "" } }] }),
        chunk({ tool_calls: [{ index: 0, function: { arguments: '{"n":1}' } }] }),
        chunk({ tool_calls: [{ index: 0, id: "call_b", type: "function", function: { name: "get_weather", arguments: "" } }] }),
        chunk({ tool_calls: [{ index: 0, function: { arguments: '{"n":2}' } }] }),
        chunk({}, "tool_calls"),
        "data: [DONE]\n\n"
      ]))
      const events = yield* collect(yield* chatRunner(server))
      assertWellFormed(events)
      const calls = doneItems(events).flatMap((item) => item._tag === "FunctionCall" ? [[item.callId, item.arguments]] : [])
      assert.deepStrictEqual(calls, [["call_a", '{"n":1}'], ["call_b", '{"n":2}']])
    }).pipe(Effect.scoped))

  it.live("Responses: a done item that contradicts its deltas never shows subscribers two texts", () =>
    Effect.gen(function*() {
      const server = yield* Server.make
      const id = "msg_contradiction"
      server.reply(Server.sse([
        event({ type: "response.output_item.added", item: { id, type: "message", role: "assistant", content: [] } }),
        event({ type: "response.output_text.delta", item_id: id, content_index: 0, delta: "Hel" }),
        event({ type: "response.output_text.delta", item_id: id, content_index: 0, delta: "lo" }),
        event({
          type: "response.output_item.done",
          item: { id, type: "message", role: "assistant", status: "completed", content: [] }
        }),
        event({ type: "response.completed", response: { model: "gpt-5-mini", usage: null } })
      ]))
      const events = yield* collect(yield* responsesRunner(server))
      assertWellFormed(events)
      const streamed = events.flatMap((e) => e._tag === "TextDelta" ? [e.delta] : []).join("")
      const [done] = doneItems(events)
      assert.strictEqual(streamed, "Hello")
      assert.strictEqual(ContextItem.text(done!), streamed)
    }).pipe(Effect.scoped))

  it.live("the provider's error code is a field on every path, the SDK's own in-stream error included", () =>
    Effect.gen(function*() {
      const head = Server.fixture("responses/text.sse").slice(0, 4)
      const cases: ReadonlyArray<readonly [Server.Reply, string]> = [
        // The SDK raises this one itself (an `error` object in a data line, no event type).
        [Server.sse([...head, `data: {"error":{"message":"boom","code":"server_error"}}\n\n`]), "server_error"],
        [Server.sse([...head, event({ type: "error", code: "rate_limit_exceeded", message: "slow down" })]), "rate_limit_exceeded"],
        [
          Server.sse([...head, event({ type: "response.failed", response: { error: { code: "server_error", message: "x" } } })]),
          "server_error"
        ],
        [Server.error(400, { error: { message: "bad", type: "invalid_request_error", code: "invalid_value" } }), "invalid_value"],
        [Server.error(429, { error: { message: "slow", type: "requests", code: "rate_limit_exceeded" } }), "rate_limit_exceeded"]
      ]
      for (const [reply, code] of cases) {
        const server = yield* Server.make
        server.reply(reply)
        const error = yield* failure(yield* responsesRunner(server))
        assert.strictEqual(error.code, code, JSON.stringify(reply).slice(0, 200))
      }
    }).pipe(Effect.scoped))

  it.live("a cut answer goes back marked: Responses with status incomplete, Chat Completions with a note", () =>
    Effect.gen(function*() {
      const items = [
        ContextItem.userText({ id: "u1", author: "alice", text: "Tell me a story" }),
        new ContextItem.ModelMessage({
          id: "m1",
          author: "assistant",
          status: "incomplete",
          content: [new ContextItem.OutputText({ text: "Once upon" })]
        }),
        ContextItem.userText({ id: "u2", author: "alice", text: "Go on" })
      ]
      const server = yield* Server.make
      server.reply(Server.sse(Server.fixture("responses/text.sse")), Server.sse(Server.fixture("chat/text.sse")))
      yield* collect(yield* responsesRunner(server), request({ items }))
      yield* collect(yield* chatRunner(server), request({ items }))
      const [viaResponses, viaChat] = server.requests()
      assert.deepStrictEqual(viaResponses!.body.input[1], {
        type: "message",
        role: "assistant",
        status: "incomplete",
        content: [{ type: "output_text", text: "Once upon", annotations: [] }]
      })
      assert.deepStrictEqual(viaChat!.body.messages[1], {
        role: "assistant",
        content: "Once upon\n[this answer was cut off before it was finished]"
      })
    }).pipe(Effect.scoped))
})
