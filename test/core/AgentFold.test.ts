/**
 * Resume = live, for what the model sees: at every inference of a live run, the context the agent sent equals
 * the context the resume fold (`internal/agent/history.ts`) computes from the journal up to that inference.
 */
import { assert, describe, it } from "@effect/vitest"
import { Chunk, Duration, Effect, Fiber, HashMap, HashSet, Ref, Schema, Stream, TestClock } from "effect"
import {
  Agent,
  ContextItem,
  Environment,
  Event,
  InferenceRunner,
  InputStream,
  Participant,
  ScriptedModel,
  Tool,
  Toolkit
} from "@chorus/core"
import { present } from "../../packages/core/src/internal/agent/context.js"
import * as History from "../../packages/core/src/internal/agent/history.js"
import * as Loop from "../../packages/core/src/internal/agent/loop.js"
import * as Runtime from "../../packages/core/src/internal/agent/runtime.js"
import { events, joinAgent, joinHuman, runEnded, runEndedAdvancing } from "../support/agents.js"
import * as Reducer from "../../packages/core/src/Reducer.js"

const shown = (items: ReadonlyArray<ContextItem.ContextItem>) =>
  items.map((item) => `${item._tag}:${item.id}:${item.status}:${ContextItem.text(item)}`)

/**
 * An agent made like `Agent.make`, observed: before each event it receives, the history it holds
 * (the fold of every event it received before) is recorded with that event's sequence.
 */
const observed = (options: Agent.Options, seen: Array<readonly [number, History.History]>) => {
  const agent = Agent.make(options)
  const record = (rt: Runtime.Runtime, event: Event.Event) =>
    Effect.map(Ref.get(rt.state), (state) => void seen.push([event.sequence, state.history]))
  return Participant.make({
    ...agent,
    run: (inbox, start) =>
      Effect.flatMap(Runtime.make(options), (rt) =>
        Loop.serve(rt, inbox.pipe(Stream.rechunk(1), Stream.tap((event) => record(rt, event))), start)),
    // The environment hands the agent its mailbox: handed on one event at a time, each recorded as it is taken.
    serve: (mailbox, start) =>
      Effect.flatMap(Runtime.make(options), (rt) => {
        let buffer: Array<Event.Event> = []
        const next = Effect.suspend(() => {
          const event = buffer.shift()
          return event === undefined ? Effect.succeed(Chunk.empty<Event.Event>()) : Effect.as(record(rt, event), Chunk.of(event))
        })
        const take = Effect.suspend(() =>
          buffer.length > 0 ? next : Effect.flatMap(mailbox.take, (chunk) => {
            buffer = Chunk.toArray(chunk)
            return next
          })
        )
        return Loop.serveMailbox(rt, { history: mailbox.history, take }, start)
      })
  })
}

/** Waits for `effect`, advancing the TestClock meanwhile. */
const advancingUntil = <A, E, R>(effect: Effect.Effect<A, E, R>, step: Duration.DurationInput = "1 second") =>
  Effect.gen(function*() {
    const fiber = yield* Effect.fork(effect)
    for (let i = 0; i < 600; i++) {
      if ((yield* Fiber.poll(fiber))._tag === "Some") break
      yield* TestClock.adjust(step)
      yield* Effect.yieldNow()
    }
    return yield* Fiber.join(fiber)
  })

/** What the agent knows, without the transcript's items in progress (the agent takes no deltas). */
const knowledge = (history: History.History) => ({
  context: shown(History.context(history)),
  order: Chunk.toReadonlyArray(history.order),
  hidden: [...HashSet.values(history.hidden)].sort(),
  handled: [...HashSet.values(history.handled)].sort(),
  messages: [...HashMap.keys(history.messages)].sort(),
  queued: Chunk.toReadonlyArray(history.queued),
  runOfItem: [...HashMap.entries(history.runOfItem)].sort(),
  inferences: [...HashMap.entries(history.inferences)].sort(),
  openInference: history.openInference,
  openRun: history.openRun,
  failedRuns: [...HashSet.values(history.failedRuns)].sort(),
  presentSince: history.presentSince,
  commands: [...HashMap.values(history.commands)].map((command) => `${command.runId}/${command.callId}:${command.status}:${command.answeredBy}:${command.hasOutput}`).sort()
})

describe("Agent: resume = live", () => {
  it.effect("at every event, the live agent's state is the fold of the journal up to it", () =>
    Effect.gen(function*() {
      const env = yield* Environment.Environment
      const add = Tool.make("add", {
        description: "Adds",
        parameters: Schema.Struct({ a: Schema.Number, b: Schema.Number }),
        handler: ({ a, b }) => Effect.as(Effect.sleep("2 seconds"), a + b)
      })
      const deploy = Tool.make("deploy", {
        description: "Deploys",
        parameters: Schema.Struct({}),
        approval: "always",
        handler: () => Effect.succeed("deployed")
      })
      const seen: Array<readonly [number, History.History]> = []
      const model = yield* ScriptedModel.make({
        turns: [
          [
            ScriptedModel.reasoning("two things"),
            ScriptedModel.functionCall("add", { a: 1, b: 2 }, { callId: "c1" }),
            ScriptedModel.functionCall("deploy", {}, { callId: "c2" })
          ],
          [ScriptedModel.text("added and deployed")],
          [ScriptedModel.text("the queued one")],
          [ScriptedModel.fail("server", "boom")],
          [ScriptedModel.text(["slow ", "answer ", "cut ", "short"])],
          [ScriptedModel.text("after the stop")]
        ],
        latency: "1 second"
      })
      yield* env.join(observed({ id: "bot" }, seen)).pipe(Effect.provide(model.layer), Effect.provide(Toolkit.make(add, deploy).layer))
      const alice = yield* joinHuman("alice")
      const bob = yield* joinHuman("bob")
      yield* alice.offer(InputStream.message("add and deploy"))
      yield* advancingUntil(env.waitFor((event) => event.payload._tag === "ApprovalRequested"))
      yield* bob.offer(InputStream.message("queue me", { policy: "queue" }))
      yield* bob.offer(InputStream.message("steer me", { policy: "steer" }))
      yield* bob.offer(InputStream.message("drop me", { policy: "drop" }))
      yield* env.waitFor((event) => event.payload._tag === "InputDropped")
      yield* env.publish("alice", new Event.ApprovalAnswered({ callId: "c2", approved: true, reason: null }))
      yield* runEndedAdvancing("bot", 2)
      yield* alice.offer(InputStream.message("this one fails"))
      yield* runEndedAdvancing("bot", 3)
      yield* alice.offer(InputStream.message("and this one is stopped"))
      let started = 0
      yield* advancingUntil(env.waitFor((event) => event.payload._tag === "InferenceStarted" && ++started === 5), "100 millis")
      yield* TestClock.adjust("1500 millis")
      yield* env.interrupt({ participant: "bot", by: "alice" })
      yield* runEnded("bot", 4)
      yield* alice.offer(InputStream.message("go on"))
      yield* runEndedAdvancing("bot", 5)
      const all = yield* events
      assert.strictEqual((yield* model.requests).length, 6)
      for (const tag of ["FunctionCallCompleted", "InputQueued", "InputSteered", "InputDropped", "InferenceFailed", "RunInterrupted"]) {
        assert.isTrue(all.some((event) => event.payload._tag === tag), `the scenario has ${tag}`)
      }
      const reducer = History.reducer("bot", true)
      let folded = reducer.initial
      let next = 0
      assert.isAbove(seen.length, 50)
      for (const [sequence, live] of seen) {
        while (next < all.length && all[next]!.sequence < sequence) folded = reducer.reduce(folded, all[next++]!)
        assert.deepStrictEqual(knowledge(live), knowledge(folded), `before event ${sequence} (${all[next]?.payload._tag})`)
      }
    }).pipe(Effect.provide(Environment.layerMemory())))

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
      yield* sameAsFold("bot", requests, yield* events, false, "addressed")
    }).pipe(Effect.provide(Environment.layerMemory())))
})

/** Each request the model got equals the resume fold of the journal up to its inference. */
const sameAsFold = (
  me: string,
  requests: ReadonlyArray<InferenceRunner.Request>,
  all: ReadonlyArray<Event.Event>,
  seesOthers = true,
  reactTo: Agent.ReactTo = "messages"
) =>
  Effect.sync(() => {
    const starts = all.filter((event) => event.payload._tag === "InferenceStarted" && event.author === me)
    assert.strictEqual(starts.length, requests.length)
    const reducer = History.reducer(me, seesOthers, reactTo)
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
