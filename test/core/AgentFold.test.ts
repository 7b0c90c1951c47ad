/**
 * Resume = live, for what the model sees: at every inference of a live run, the context the agent sent equals
 * the context the resume fold (`internal/agent/history.ts`) computes from the journal up to that inference.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Schema, TestClock } from "effect"
import { ContextItem, Environment, Event, InferenceRunner, InputStream, ScriptedModel, Tool, Toolkit } from "@chorus/core"
import { present } from "../../packages/core/src/internal/agent/context.js"
import * as History from "../../packages/core/src/internal/agent/history.js"
import { events, joinAgent, joinHuman, runEnded, runEndedAdvancing } from "../support/agents.js"
import * as Reducer from "../../packages/core/src/Reducer.js"

const shown = (items: ReadonlyArray<ContextItem.ContextItem>) =>
  items.map((item) => `${item._tag}:${item.id}:${item.status}:${ContextItem.text(item)}`)

describe("Agent: resume = live", () => {
  it.effect("at every inference, the live context equals the fold of the journal up to it", () =>
    Effect.gen(function*() {
      const env = yield* Environment.Environment
      const add = Tool.make("add", {
        description: "Adds",
        parameters: Schema.Struct({ a: Schema.Number, b: Schema.Number }),
        handler: ({ a, b }) => Effect.succeed(a + b)
      })
      const model = yield* joinAgent({ id: "bot" }, {
        turns: [
          [ScriptedModel.reasoning("sum"), ScriptedModel.functionCall("add", { a: 1, b: 2 }, { callId: "c1" })],
          [ScriptedModel.text("It is 3.")],
          [
            ScriptedModel.parts(
              new InferenceRunner.ItemStart({ itemId: "cut", kind: "message", callId: null, name: null }),
              new Event.TextDelta({ itemId: "cut", contentIndex: 0, delta: "half" })
            ),
            ScriptedModel.fail("server", "boom")
          ],
          [ScriptedModel.text(["slow ", "answer ", "here"])],
          [ScriptedModel.text("after the stop")]
        ],
        latency: "1 second"
      }, Toolkit.make(add).layer)
      const alice = yield* joinHuman("alice")
      yield* alice.offer(InputStream.message("add 1 and 2"))
      yield* runEndedAdvancing("bot", 1)
      yield* alice.offer(InputStream.message("again?"))
      yield* runEndedAdvancing("bot", 2)
      yield* alice.offer(InputStream.message("and now?"))
      let started = 0
      yield* env.waitFor((event) => event.payload._tag === "InferenceStarted" && ++started === 4)
      yield* TestClock.adjust("1500 millis")
      yield* env.interrupt({ participant: "bot", by: "alice" })
      yield* runEnded("bot", 3)
      yield* alice.offer(InputStream.message("go on"))
      yield* runEndedAdvancing("bot", 4)
      const all = yield* events
      const requests = yield* model.requests
      assert.strictEqual(requests.length, 5)
      yield* sameAsFold("bot", requests, all)
    }).pipe(Effect.provide(Environment.layerMemory())))

  it.effect("concurrent calls finishing out of order, queued and steered input, others talking mid-run", () =>
    Effect.gen(function*() {
      const env = yield* Environment.Environment
      const wait = Tool.make("wait", {
        description: "Waits",
        parameters: Schema.Struct({ seconds: Schema.Number }),
        handler: ({ seconds }) => Effect.as(Effect.sleep(`${seconds} seconds`), `waited ${seconds}`)
      })
      const model = yield* joinAgent({ id: "bot" }, {
        turns: [
          [
            ScriptedModel.functionCall("wait", { seconds: 3 }, { callId: "slow" }),
            ScriptedModel.functionCall("wait", { seconds: 1 }, { callId: "fast" }),
            ScriptedModel.functionCall("wait", { seconds: 2 }, { callId: "middle" })
          ],
          [ScriptedModel.text("all waited")],
          [ScriptedModel.text("queued one handled")]
        ]
      }, Toolkit.make(wait).layer)
      const alice = yield* joinHuman("alice")
      const bob = yield* joinHuman("bob")
      yield* alice.offer(InputStream.message("wait three ways"))
      yield* env.waitFor((event) => event.payload._tag === "FunctionCallStarted")
      yield* bob.offer(InputStream.message("later, please", { policy: "queue" }))
      yield* alice.offer(InputStream.message("and be quick", { policy: "steer" }))
      yield* env.waitFor((event) => event.payload._tag === "InputQueued")
      yield* runEndedAdvancing("bot", 2)
      const all = yield* events
      const requests = yield* model.requests
      assert.strictEqual(requests.length, 3)
      // The outputs reach the model in call order, though they finished fast, middle, slow.
      assert.deepStrictEqual(
        requests[1]!.items.flatMap((item) => item._tag === "FunctionCallOutput" ? [item.callId] : []),
        ["slow", "fast", "middle"]
      )
      yield* sameAsFold("bot", requests, all)
    }).pipe(Effect.provide(Environment.layerMemory())))

  it.effect("an agent that sees only its triggers: the trigger is in its context, others' talk is not", () =>
    Effect.gen(function*() {
      const model = yield* joinAgent({ id: "bot", visibility: { scope: "triggers" }, reactTo: "addressed" }, {
        turns: [[ScriptedModel.text("first")], [ScriptedModel.text("second")]]
      })
      const alice = yield* joinHuman("alice")
      yield* alice.offer(InputStream.message("chatter nobody addressed"))
      yield* alice.offer(InputStream.message("@bot hello"))
      yield* runEnded("bot", 1)
      yield* alice.offer(InputStream.message("more chatter"))
      yield* alice.offer(InputStream.message("@bot again"))
      yield* runEnded("bot", 2)
      const requests = yield* model.requests
      assert.deepStrictEqual(
        requests[1]!.items.map((item) => ContextItem.text(item)),
        ["alice: @bot hello", "first", "alice: @bot again"]
      )
      yield* sameAsFold("bot", requests, yield* events, false)
    }).pipe(Effect.provide(Environment.layerMemory())))
})

/** Each request the model got equals the resume fold of the journal up to its inference. */
const sameAsFold = (
  me: string,
  requests: ReadonlyArray<InferenceRunner.Request>,
  all: ReadonlyArray<Event.Event>,
  seesOthers = true
) =>
  Effect.sync(() => {
    const starts = all.filter((event) => event.payload._tag === "InferenceStarted" && event.author === me)
    assert.strictEqual(starts.length, requests.length)
    const reducer = History.reducer(me, seesOthers)
    requests.forEach((request, index) => {
      const prefix = all.filter((event) => event.sequence < starts[index]!.sequence)
      const folded = History.context(Reducer.run(reducer, prefix))
        .flatMap((item) => {
          const seen = present(me, item, seesOthers ? undefined : { scope: "triggers" })
          return seen === undefined ? [] : [seen]
        })
      assert.deepStrictEqual(shown(request.items), shown(folded), `inference ${index + 1}`)
    })
  })
