import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer, Redacted, Schema } from "effect"
import { Agent, ContextItem, Environment, InputStream, Tool, Toolkit } from "@chorus/core"
import { OpenAiClient, OpenAiResponses } from "@chorus/providers"
import { apiKey } from "../providers/helpers.js"
import * as Server from "../providers/server.js"
import { events, joinHuman, payloads, runEnded } from "../support/agents.js"

// An agent in an environment with the Responses runner against a local server
// that speaks the wire protocol: what the agent does with the streamed items,
// and what it sends back to the provider on the next request.

const getWeather = Tool.make("get_weather", {
  description: "The weather in a city",
  parameters: Schema.Struct({ city: Schema.String, unit: Schema.Literal("celsius", "fahrenheit") }),
  handler: ({ city }) => Effect.succeed(city === "Paris" ? "18°C, sunny" : "24°C, cloudy")
})

const joinAssistant = (baseURL: string) =>
  Effect.gen(function*() {
    const env = yield* Environment.Environment
    yield* env.join(Agent.make({ id: "assistant", instructions: "Answer with the tools." })).pipe(
      Effect.provide(
        OpenAiResponses.layer({ model: "gpt-5-mini" }).pipe(
          Layer.provide(OpenAiClient.layer({ apiKey: Redacted.make(apiKey), baseURL }))
        )
      ),
      Effect.provide(Toolkit.make(getWeather).layer)
    )
  })

const system = { type: "message", role: "system", content: [{ type: "input_text", text: "Answer with the tools." }] }
const user = (text: string) => ({ type: "message", role: "user", content: [{ type: "input_text", text }] })

describe("an agent on the OpenAI Responses runner", () => {
  it.live("runs the model's parallel function calls and sends reasoning, calls and outputs back", () =>
    Effect.gen(function*() {
      const server = yield* Server.make
      server.reply(
        Server.sse(Server.fixture("responses/agent-calls.sse")),
        Server.sse(Server.fixture("responses/agent-answer.sse"))
      )
      yield* joinAssistant(server.baseURL)
      const alice = yield* joinHuman("alice")
      yield* alice.offer(InputStream.message("Weather in Paris and Tokyo?"))
      const ended = yield* runEnded("assistant")
      assert.strictEqual(ended.payload._tag === "RunEnded" && ended.payload.outcome, "completed")

      const [first, second] = server.requests()
      assert.strictEqual(server.requests().length, 2)
      assert.deepStrictEqual(first!.body.input, [system, user("alice: Weather in Paris and Tokyo?")])
      assert.deepStrictEqual(first!.body.tools, [{
        type: "function",
        name: "get_weather",
        description: "The weather in a city",
        parameters: getWeather.definition.parameters,
        strict: true
      }])

      const input = second!.body.input as ReadonlyArray<Record<string, unknown>>
      assert.deepStrictEqual(input.slice(0, 5), [
        system,
        user("alice: Weather in Paris and Tokyo?"),
        {
          type: "reasoning",
          summary: [{ type: "summary_text", text: "Checking both cities." }],
          encrypted_content: "gAAAAABpAgentTurnEncrypted=="
        },
        {
          type: "function_call",
          call_id: "call_agent_paris",
          name: "get_weather",
          arguments: '{"city":"Paris","unit":"celsius"}'
        },
        {
          type: "function_call",
          call_id: "call_agent_tokyo",
          name: "get_weather",
          arguments: '{"city":"Tokyo","unit":"celsius"}'
        }
      ])
      // The calls ran in parallel: their outputs may come in either order.
      const outputs = [...input.slice(5)].sort((a, b) => String(a.call_id).localeCompare(String(b.call_id)))
      assert.deepStrictEqual(outputs, [
        { type: "function_call_output", call_id: "call_agent_paris", output: "18°C, sunny" },
        { type: "function_call_output", call_id: "call_agent_tokyo", output: "24°C, cloudy" }
      ])

      const all = yield* events
      const answer = payloads(all, "ItemDone").map((done) => done.item).filter((item) =>
        item._tag === "ModelMessage"
      )
      assert.deepStrictEqual(answer.map((item) => [item.id, item.author, item.status, ContextItem.text(item)]), [
        ["msg_agent0000000000000000000000001", "assistant", "completed", "Paris: 18°C, Tokyo: 24°C."]
      ])
      assert.deepStrictEqual(
        payloads(all, "FunctionCallCompleted").map((completed) => completed.callId).sort(),
        ["call_agent_paris", "call_agent_tokyo"]
      )
      const usage = payloads(all, "InferenceCompleted").map((completed) => completed.usage)
      assert.deepStrictEqual(usage.map((u) => [u.inputTokens, u.reasoningTokens, u.cachedInputTokens]), [
        [180, 32, 0],
        [320, 0, 128]
      ])
    }).pipe(Effect.scoped, Effect.provide(Environment.layerMemory())))

  it.live("a stop while the provider is silent closes the connection; the partial answer goes back next turn", () =>
    Effect.gen(function*() {
      const server = yield* Server.make
      const text = Server.fixture("responses/text.sse")
      server.reply(Server.sse(text.slice(0, 5), "stall"), Server.sse(text))
      yield* joinAssistant(server.baseURL)
      const env = yield* Environment.Environment
      const alice = yield* joinHuman("alice")
      yield* alice.offer(InputStream.message("Tell me a story"))
      yield* env.waitFor((event) => event.payload._tag === "TextDelta")
      yield* Effect.promise(() => server.requests()[0]!.written)

      yield* alice.offer(new InputStream.Interrupt({ participant: "assistant", runId: null }))
      const ended = yield* runEnded("assistant")
      assert.strictEqual(ended.payload._tag === "RunEnded" && ended.payload.outcome, "interrupted")
      // The provider saw its connection closed.
      yield* Effect.promise(() => server.requests()[0]!.closed).pipe(
        Effect.timeoutFail({ duration: "10 seconds", onTimeout: () => new Error("the request was not aborted") })
      )
      const partial = payloads(yield* events, "ItemDone").map((done) => done.item).find((item) =>
        item._tag === "ModelMessage"
      )
      assert.deepStrictEqual(partial && [partial.status, ContextItem.text(partial)], ["incomplete", "Hello"])

      yield* alice.offer(InputStream.message("Go on"))
      yield* runEnded("assistant", 2)
      assert.deepStrictEqual(server.requests()[1]!.body.input, [
        system,
        user("alice: Tell me a story"),
        // The partial answer stays in the transcript, marked as cut off rather than presented as finished.
        {
          type: "message",
          role: "assistant",
          status: "incomplete",
          content: [{ type: "output_text", text: "Hello", annotations: [] }]
        },
        user("alice: Go on")
      ])
    }).pipe(Effect.scoped, Effect.provide(Environment.layerMemory())))
})
