import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer, Schema } from "effect"
import { Agent, ContextItem, Environment, Event, InferenceRunner, InputStream, Tool, Toolkit } from "@chorus/core"
import { anthropicLayer, openaiLayer } from "../providers/bridge.js"
import * as Server from "../providers/server.js"
import { events, joinHuman, payloads, runEnded } from "../support/agents.js"

// A full agent on the @effect/ai bridge, with @effect/ai-anthropic and @effect/ai-openai against local servers
// speaking each API's wire format: Chorus runs the tools (with approval), the model never does.

const getWeather = Tool.make("get_weather", {
  description: "The weather in a city",
  parameters: Schema.Struct({ city: Schema.String, unit: Schema.Literal("celsius", "fahrenheit") }),
  approval: "always",
  handler: ({ city }) => Effect.succeed(city === "Paris" ? "18°C, sunny" : "24°C, cloudy")
})

const joinAssistant = (inference: Layer.Layer<InferenceRunner.InferenceRunner>) =>
  Effect.gen(function*() {
    const env = yield* Environment.Environment
    // Built in the test's scope: the HTTP client must outlive the join.
    const runner = yield* Layer.build(inference)
    yield* env.join(Agent.make({ id: "assistant", instructions: "Answer with the tools." })).pipe(
      Effect.provide(runner),
      Effect.provide(Toolkit.make(getWeather).layer)
    )
  })

describe("an agent on the @effect/ai bridge", () => {
  it.live("Anthropic: thinking, an approved tool call run by Chorus, the answer; thinking goes back signed", () =>
    Effect.gen(function*() {
      const server = yield* Server.make
      server.reply(
        Server.sse(Server.fixture("anthropic/tool-use.sse")),
        Server.sse(Server.fixture("anthropic/answer.sse"))
      )
      yield* joinAssistant(anthropicLayer(server.baseURL))
      const env = yield* Environment.Environment
      const alice = yield* joinHuman("alice")
      yield* alice.offer(InputStream.message("Weather in Paris?"))
      const requested = yield* env.waitFor((event) => event.payload._tag === "ApprovalRequested")
      const approval = requested.payload as Event.ApprovalRequested
      assert.strictEqual(approval.callId, "toolu_01AgentParis00000000000")
      assert.strictEqual(server.requests().length, 1)
      yield* alice.offer(new InputStream.Approval({ callId: approval.callId, approved: true, reason: null }))
      const ended = yield* runEnded("assistant")
      assert.strictEqual(ended.payload._tag === "RunEnded" && ended.payload.outcome, "completed")

      const all = yield* events
      const done = payloads(all, "ItemDone").map((d) => d.item)
      const answer = done.filter((item) => item._tag === "ModelMessage").map(ContextItem.text)
      assert.deepStrictEqual(answer, ["Let me check the weather.", "Paris: 18°C, sunny."])
      const reasoning = done.find((item) => item._tag === "Reasoning")
      assert.strictEqual(
        reasoning?._tag === "Reasoning" ? reasoning.content.map((part) => part.text).join("") : null,
        "The user wants the weather in Paris."
      )
      assert.deepStrictEqual(payloads(all, "FunctionCallCompleted").map((c) => c.callId), [approval.callId])

      const second = server.requests()[1]!.body
      const assistant = second.messages[1].content
      assert.deepStrictEqual(assistant[0], {
        type: "thinking",
        thinking: "The user wants the weather in Paris.",
        signature: "EqQBCgIYAhIMAgentThinkingSignature0123456789=="
      })
      assert.deepStrictEqual(second.messages[2].content[0].tool_use_id, approval.callId)
      assert.include(JSON.stringify(second.messages[2].content[0].content), "18°C, sunny")
    }).pipe(Effect.scoped, Effect.provide(Environment.layerMemory())))

  it.live("OpenAI: a stop while the provider is silent closes the connection; the partial answer is kept", () =>
    Effect.gen(function*() {
      const server = yield* Server.make
      const text = Server.fixture("responses/text.sse")
      server.reply(Server.sse(text.slice(0, 5), "stall"))
      yield* joinAssistant(openaiLayer(server.baseURL))
      const env = yield* Environment.Environment
      const alice = yield* joinHuman("alice")
      yield* alice.offer(InputStream.message("Tell me a story"))
      yield* env.waitFor((event) => event.payload._tag === "TextDelta")
      yield* alice.offer(new InputStream.Interrupt({ participant: "assistant", runId: null }))
      const ended = yield* runEnded("assistant")
      assert.strictEqual(ended.payload._tag === "RunEnded" && ended.payload.outcome, "interrupted")
      yield* Effect.promise(() => server.requests()[0]!.closed).pipe(
        Effect.timeoutFail({ duration: "10 seconds", onTimeout: () => new Error("the request was not aborted") })
      )
      const partial = payloads(yield* events, "ItemDone").map((done) => done.item).find((item) =>
        item._tag === "ModelMessage"
      )
      assert.deepStrictEqual(partial && [partial.status, ContextItem.text(partial)], ["incomplete", "Hello"])
    }).pipe(Effect.scoped, Effect.provide(Environment.layerMemory())))
})
