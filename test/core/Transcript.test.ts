import { assert, describe, it } from "@effect/vitest"
import { Effect, Schema } from "effect"
import { ContextItem, Environment, ScriptedModel, Tool, Toolkit, Transcript } from "@chorus/core"
import { joinAgent, joinHuman, runEnded } from "../support/agents.js"
import { InputStream } from "@chorus/core"

const lookup = Tool.make("lookup", {
  description: "Looks a word up",
  parameters: Schema.Struct({ word: Schema.String }),
  handler: ({ word }) => Effect.succeed(`${word}: a small bird`)
})

describe("Transcript", () => {
  it.effect("exports a conversation as OpenResponses input items and a new environment continues from it", () =>
    Effect.gen(function*() {
      const json = yield* Effect.gen(function*() {
        yield* joinAgent(
          { id: "assistant" },
          {
            turns: [
              [ScriptedModel.reasoning("Look it up", { encryptedContent: "enc-1" }), ScriptedModel.functionCall("lookup", { word: "wren" }, { callId: "c1" })],
              [ScriptedModel.text("A wren is a small bird.")]
            ]
          },
          Toolkit.make(lookup).layer
        )
        const alice = yield* joinHuman("alice")
        yield* alice.offer(InputStream.message("what is a wren?"))
        yield* runEnded("assistant")
        return yield* Transcript.exportJson
      }).pipe(Effect.provide(Environment.layerMemory()))

      // Standard OpenResponses input items.
      const wire = JSON.parse(json) as Array<{ type: string; role?: string }>
      assert.deepStrictEqual(wire.map((item) => item.type + (item.role ? `:${item.role}` : "")), [
        "message:user",
        "reasoning",
        "function_call",
        "function_call_output",
        "message:assistant"
      ])

      const model = yield* Effect.gen(function*() {
        yield* Transcript.importJson(json)
        const model = yield* joinAgent({ id: "assistant" }, { turns: [[ScriptedModel.text("Yes, tiny.")]] }, Toolkit.make(lookup).layer)
        const alice = yield* joinHuman("alice")
        yield* alice.offer(InputStream.message("is it small?"))
        yield* runEnded("assistant")
        return model
      }).pipe(Effect.provide(Environment.layerMemory()))
      const [request] = yield* model.requests
      const seen = request!.items.map((item) => `${item._tag}:${ContextItem.text(item)}`)
      assert.deepStrictEqual(seen, [
        "UserMessage:alice: what is a wren?",
        "Reasoning:Look it up",
        "FunctionCall:{\"word\":\"wren\"}",
        "FunctionCallOutput:wren: a small bird",
        "ModelMessage:A wren is a small bird.",
        "UserMessage:alice: is it small?"
      ])
      const reasoning = request!.items.find((item) => item._tag === "Reasoning")
      assert.strictEqual(reasoning?._tag === "Reasoning" && reasoning.encryptedContent, "enc-1")
    }))

  it.effect("a transcript file that is not OpenResponses input items is a clear typed error", () =>
    Effect.gen(function*() {
      for (const garbage of ["not json", "{}", "[{\"type\":\"message\",\"role\":\"user\"}]", "[{\"type\":\"function_call\",\"name\":\"x\"}]"]) {
        const error = yield* Effect.flip(Transcript.decodeJson(garbage))
        assert.strictEqual(error._tag, "TranscriptInvalid")
        assert.isTrue(error.message.length > 20)
      }
      // Nothing was published.
      const env = yield* Environment.Environment
      const error = yield* Effect.flip(Transcript.importJson("[1]"))
      assert.strictEqual(error._tag, "TranscriptInvalid")
      assert.strictEqual(yield* env.lastSequence, -1)
    }).pipe(Effect.provide(Environment.layerMemory())))
})
