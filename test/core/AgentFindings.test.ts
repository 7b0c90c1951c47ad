/**
 * What a tester found on main (issue 13), each as a test through the public API.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Fiber, Layer, Option, Ref, Schedule, Schema, Stream, TestClock } from "effect"
import { Agent, ContextItem, Environment, Event, InferenceRunner, InputStream, Journal, ScriptedModel, Tool, Toolkit } from "@chorus/core"
import { deployTool, events, joinAgent, joinHuman, payloads, runEnded, runEndedAdvancing } from "../support/agents.js"

const lifetimes = Effect.gen(function*() {
  const journal = yield* Journal.makeMemory
  const environment = Environment.layer().pipe(Layer.provide(Layer.succeed(Journal.Journal, journal)), Layer.orDie)
  return <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.provide(effect, environment)
})

/** The first live event matching, from a subscription opened now (no journal read: it may be broken). */
const live = (predicate: (event: Event.Event) => boolean) =>
  Effect.gen(function*() {
    const env = yield* Environment.Environment
    const subscription = yield* env.subscribe()
    return yield* Effect.fork(Stream.runHead(Stream.filter(subscription.stream, predicate)))
  })

const approve = (callId: string) => new InputStream.Approval({ callId, approved: true, reason: null })

describe("Agent: the tester's findings", () => {
  it.effect("1. a call whose FunctionCallRequested was never journaled is requested on resume and runs once", () =>
    Effect.gen(function*() {
      const inEnvironment = yield* lifetimes
      const runs = yield* Ref.make<ReadonlyArray<string>>([])
      const toolkit = Toolkit.make(deployTool(runs))
      // The first process died right after the call's ItemDone.
      yield* inEnvironment(Effect.gen(function*() {
        const env = yield* Environment.Environment
        const runId = "ops_run_x"
        const ask = ContextItem.userText({ id: "u1", author: "alice", text: "deploy prod" })
        const call = new ContextItem.FunctionCall({
          id: "fc1",
          author: "ops",
          status: "completed",
          callId: "d1",
          name: "deploy",
          arguments: "{\"target\":\"prod\"}"
        })
        yield* env.publish(Environment.author, new Event.ParticipantJoined({ participant: "ops", kind: "agent" }))
        yield* env.publish(Environment.author, new Event.ParticipantJoined({ participant: "alice", kind: "human" }))
        yield* env.publish("alice", new Event.ItemAdded({ item: ask, runId: null }))
        yield* env.publish("alice", new Event.ItemDone({ item: ask, runId: null }))
        yield* env.publish("ops", new Event.RunStarted({ participant: "ops", runId, trigger: "u1" }))
        yield* env.publish("ops", new Event.InferenceStarted({ runId, inferenceId: `${runId}_inf_1`, model: null }))
        yield* env.publish("ops", new Event.ItemAdded({ item: new ContextItem.FunctionCall({ ...call, status: "in_progress", arguments: "" }), runId }))
        yield* env.publish("ops", new Event.ItemDone({ item: call, runId }))
        yield* env.publish("ops", new Event.InferenceCompleted({ runId, inferenceId: `${runId}_inf_1`, usage: Event.Usage.zero, incompleteReason: null }))
      }))
      yield* inEnvironment(Effect.gen(function*() {
        const env = yield* Environment.Environment
        yield* joinAgent({ id: "ops" }, { turns: [[ScriptedModel.text("deployed")]] }, toolkit.layer)
        const alice = yield* joinHuman("alice")
        yield* env.waitFor((event) => event.payload._tag === "ApprovalRequested")
        yield* alice.offer(approve("d1"))
        const ended = yield* runEnded("ops")
        assert.strictEqual((ended.payload as Event.RunEnded).outcome, "completed")
        assert.strictEqual(payloads(yield* events, "FunctionCallRequested").length, 1)
      }))
      assert.deepStrictEqual(yield* Ref.get(runs), ["prod"])
    }))

  it.effect("2. an answer that arrives before ApprovalRequested (a slow beforeFunctionCall hook) is kept and applied", () =>
    Effect.gen(function*() {
      const env = yield* Environment.Environment
      const runs = yield* Ref.make<ReadonlyArray<string>>([])
      yield* joinAgent(
        { id: "ops", hooks: { beforeFunctionCall: () => Effect.sleep("300 millis") } },
        { turns: [[ScriptedModel.functionCall("deploy", { target: "prod" }, { callId: "d1" })], [ScriptedModel.text("done")]] },
        Toolkit.make(deployTool(runs)).layer
      )
      const alice = yield* joinHuman("alice")
      yield* alice.offer(InputStream.message("deploy"))
      yield* env.waitFor((event) => event.payload._tag === "FunctionCallRequested")
      yield* alice.offer(approve("d1"))
      const ended = yield* runEndedAdvancing("ops")
      assert.strictEqual((ended.payload as Event.RunEnded).outcome, "completed")
      assert.deepStrictEqual(yield* Ref.get(runs), ["prod"])
      assert.strictEqual(payloads(yield* events, "ApprovalAnswerRefused").length, 0)
    }).pipe(Effect.provide(Environment.layerMemory())))

  it.effect("3. a call id reused by the next response is a new call: its approval applies, and its timeout ends the run", () =>
    Effect.gen(function*() {
      const env = yield* Environment.Environment
      const runs = yield* Ref.make<ReadonlyArray<string>>([])
      yield* joinAgent(
        { id: "ops", approval: { timeout: "1 minute" } },
        {
          turns: [
            [ScriptedModel.functionCall("deploy", { target: "a" }, { callId: "call_0" })],
            [ScriptedModel.text("a done")],
            [ScriptedModel.functionCall("deploy", { target: "b" }, { callId: "call_0" })],
            [ScriptedModel.text("b done")],
            [ScriptedModel.functionCall("deploy", { target: "c" }, { callId: "call_0" })],
            [ScriptedModel.text("c timed out")]
          ]
        },
        Toolkit.make(deployTool(runs)).layer
      )
      const alice = yield* joinHuman("alice")
      for (const [index, target] of ["a", "b"].entries()) {
        yield* alice.offer(InputStream.message(`deploy ${target}`))
        let requested = 0
        yield* env.waitFor((event) => event.payload._tag === "ApprovalRequested" && ++requested === index + 1)
        yield* alice.offer(approve("call_0"))
        yield* runEnded("ops", index + 1)
      }
      assert.deepStrictEqual(yield* Ref.get(runs), ["a", "b"])
      assert.strictEqual(payloads(yield* events, "ApprovalAnswerRefused").length, 0)
      yield* alice.offer(InputStream.message("deploy c"))
      const ended = yield* runEndedAdvancing("ops", 3)
      assert.strictEqual((ended.payload as Event.RunEnded).outcome, "completed")
      assert.deepStrictEqual(yield* Ref.get(runs), ["a", "b"])
    }).pipe(Effect.provide(Environment.layerMemory())))

  it.effect("4. an agent whose history cannot be read fails visibly instead of leaving", () =>
    Effect.gen(function*() {
      const memory = yield* Journal.makeMemory
      const corrupted: Journal.Service = {
        ...memory,
        read: (options) =>
          Stream.concat(
            memory.read(options).pipe(Stream.take(1)),
            Stream.fail(new Journal.JournalCorrupted({ location: "memory", line: 2, detail: "tampered" }))
          )
      }
      yield* Effect.gen(function*() {
        const env = yield* Environment.Environment
        yield* env.publish("alice", new Event.InterruptRequested({ participant: "nobody", runId: null }))
        yield* env.publish("alice", new Event.InterruptRequested({ participant: "nobody", runId: null }))
        const watching = yield* live((event) =>
          (event.payload._tag === "ParticipantFailed" || event.payload._tag === "ParticipantLeft") &&
          (event.payload as Event.ParticipantLeft).participant === "ops"
        )
        yield* joinAgent({ id: "ops" }, { turns: [] })
        const gone = (yield* Fiber.join(watching)).pipe(Option.getOrThrow)
        assert.strictEqual(gone.payload._tag, "ParticipantFailed")
        assert.include((gone.payload as Event.ParticipantFailed).cause, "corrupted")
      }).pipe(Effect.scoped, Effect.provide(Environment.layer().pipe(Layer.provide(Layer.succeed(Journal.Journal, corrupted)), Layer.orDie)))
    }))

  it.effect("5. leaving mid-run closes the run: incomplete items, interruption and RunEnded before ParticipantLeft", () =>
    Effect.gen(function*() {
      const env = yield* Environment.Environment
      yield* joinAgent({ id: "talker" }, { turns: [[ScriptedModel.text(["one ", "two ", "three"])]], latency: "1 second" })
      const alice = yield* joinHuman("alice")
      yield* alice.offer(InputStream.message("talk"))
      yield* env.waitFor((event) => event.payload._tag === "InferenceStarted")
      yield* TestClock.adjust("1500 millis")
      yield* env.waitFor((event) => event.payload._tag === "TextDelta")
      yield* env.leave("talker")
      const all = yield* events
      const tags = all.filter((event) => event.author !== "alice").map((event) => event.payload._tag)
      const left = tags.lastIndexOf("ParticipantLeft")
      const ended = payloads(all, "RunEnded")
      assert.strictEqual(ended.length, 1)
      assert.strictEqual(ended[0]!.outcome, "interrupted")
      assert.isBelow(tags.lastIndexOf("RunEnded"), left)
      const message = payloads(all, "ItemDone").map((done) => done.item).find((item) => item._tag === "ModelMessage")!
      assert.strictEqual(message.status, "incomplete")
      assert.strictEqual(ContextItem.text(message), "one ")
    }).pipe(Effect.provide(Environment.layerMemory())))

  it.effect("6. answers with no effect are refused visibly: after a cancel, and for an unknown call", () =>
    Effect.gen(function*() {
      const env = yield* Environment.Environment
      const runs = yield* Ref.make<ReadonlyArray<string>>([])
      yield* joinAgent(
        { id: "ops" },
        { turns: [[ScriptedModel.functionCall("deploy", { target: "prod" }, { callId: "d1" })]] },
        Toolkit.make(deployTool(runs)).layer
      )
      const alice = yield* joinHuman("alice")
      yield* alice.offer(InputStream.message("deploy"))
      yield* env.waitFor((event) => event.payload._tag === "ApprovalRequested")
      yield* env.interrupt({ participant: "ops", by: "alice" })
      yield* runEnded("ops")
      yield* alice.offer(approve("d1"))
      const late = yield* env.waitFor((event) => event.payload._tag === "ApprovalAnswerRefused")
      assert.strictEqual((late.payload as Event.ApprovalAnswerRefused).callId, "d1")
      yield* env.publish("alice", new Event.ApprovalAnswered({ callId: "nobody-asked", approved: true, reason: null }))
      let refused = 0
      const unknown = yield* env.waitFor((event) => event.payload._tag === "ApprovalAnswerRefused" && ++refused === 2)
      assert.strictEqual((unknown.payload as Event.ApprovalAnswerRefused).reason, "unknown_call")
      assert.deepStrictEqual(yield* Ref.get(runs), [])
      // Exactly one refusal for each.
      yield* Effect.yieldNow()
      assert.strictEqual(payloads(yield* events, "ApprovalAnswerRefused").length, 2)
    }).pipe(Effect.provide(Environment.layerMemory())))

  it.effect("7. a tool does not run when its start cannot be made durable", () =>
    Effect.gen(function*() {
      const memory = yield* Journal.makeMemory
      const broken: Journal.Service = {
        ...memory,
        append: () => Effect.fail(new Journal.JournalError({ operation: "append", detail: "disk full" }))
      }
      const runs = yield* Ref.make<ReadonlyArray<string>>([])
      const model = yield* Effect.gen(function*() {
        const model = yield* joinAgent(
          { id: "ops", approval: { default: "never" } },
          { turns: [[ScriptedModel.functionCall("deploy", { target: "prod" }, { callId: "d1" })], [ScriptedModel.text("ok")]] },
          Toolkit.make(deployTool(runs)).layer
        )
        const alice = yield* joinHuman("alice")
        const ended = yield* live((event) => event.payload._tag === "RunEnded")
        yield* alice.offer(InputStream.message("deploy"))
        yield* Fiber.join(ended)
        return model
      }).pipe(
        Effect.scoped,
        Effect.provide(
          Environment.layer({ appendRetry: Schedule.recurs(0) }).pipe(Layer.provide(Layer.succeed(Journal.Journal, broken)), Layer.orDie)
        )
      )
      assert.deepStrictEqual(yield* Ref.get(runs), [])
      const output = (yield* model.requests)[1]!.items.find((item) => item._tag === "FunctionCallOutput")!
      assert.isTrue(output.isError)
      assert.include(ContextItem.text(output), "journal")
    }))

  it.effect("9. a tool that throws, or returns what JSON cannot hold, gives the model an error output; a huge bad argument is not echoed", () =>
    Effect.gen(function*() {
      const thrower = Tool.make("thrower", {
        description: "",
        parameters: Schema.Struct({}),
        handler: (): Effect.Effect<string> => {
          throw new Error("sync boom")
        }
      })
      const big = Tool.make("big", { description: "", parameters: Schema.Struct({}), handler: () => Effect.succeed({ n: 1n }) })
      const circular = Tool.make("circular", {
        description: "",
        parameters: Schema.Struct({}),
        handler: () => {
          const value: Record<string, unknown> = {}
          value.self = value
          return Effect.succeed(value)
        }
      })
      const echo = Tool.make("echo", { description: "", parameters: Schema.Struct({ text: Schema.String }), handler: ({ text }) => Effect.succeed(text) })
      const huge = JSON.stringify({ text: 42, padding: "x".repeat(1_000_000) })
      const model = yield* joinAgent(
        { id: "ops" },
        {
          turns: [
            [
              ScriptedModel.functionCall("thrower", {}, { callId: "t" }),
              ScriptedModel.functionCall("big", {}, { callId: "b" }),
              ScriptedModel.functionCall("circular", {}, { callId: "c" }),
              ScriptedModel.functionCall("echo", huge, { callId: "e", chunks: 1 })
            ],
            [ScriptedModel.text("ok")]
          ]
        },
        Toolkit.make(thrower, big, circular, echo).layer
      )
      const alice = yield* joinHuman("alice")
      yield* alice.offer(InputStream.message("go"))
      const ended = yield* runEnded("ops")
      assert.strictEqual((ended.payload as Event.RunEnded).outcome, "completed")
      const outputs = new Map(
        (yield* model.requests)[1]!.items.flatMap((item) => item._tag === "FunctionCallOutput" ? [[item.callId, item] as const] : [])
      )
      for (const id of ["t", "b", "c", "e"]) assert.isTrue(outputs.get(id)!.isError, id)
      assert.include(ContextItem.text(outputs.get("t")!), "sync boom")
      assert.isBelow(ContextItem.text(outputs.get("e")!).length, 2_000)
    }).pipe(Effect.provide(Environment.layerMemory())))
})

describe("Agent: related issues", () => {
  it.effect("an agent without tools needs no FunctionCallRunner (issue 15)", () =>
    Effect.gen(function*() {
      const env = yield* Environment.Environment
      const model = yield* ScriptedModel.make({ turns: [[ScriptedModel.text("hi")]] })
      yield* env.join(Agent.make({ id: "plain" })).pipe(Effect.provide(model.layer))
      const alice = yield* joinHuman("alice")
      yield* alice.offer(InputStream.message("hello"))
      const ended = yield* runEnded("plain")
      assert.strictEqual((ended.payload as Event.RunEnded).outcome, "completed")
      assert.deepStrictEqual((yield* model.requests)[0]!.tools, [])
    }).pipe(Effect.provide(Environment.layerMemory())))

  it.effect("after an inference fails mid-text, the next request does not show the partial text as an answer (issue 18)", () =>
    Effect.gen(function*() {
      const model = yield* joinAgent({ id: "bot" }, {
        turns: [
          [
            ScriptedModel.parts(
              new InferenceRunner.ItemStart({ itemId: "m1", kind: "message", callId: null, name: null }),
              new Event.TextDelta({ itemId: "m1", contentIndex: 0, delta: "half " }),
              new Event.TextDelta({ itemId: "m1", contentIndex: 0, delta: "an " })
            ),
            ScriptedModel.fail("server", "boom")
          ],
          [ScriptedModel.text("ok")]
        ]
      })
      const alice = yield* joinHuman("alice")
      yield* alice.offer(InputStream.message("one"))
      yield* runEnded("bot")
      const partial = payloads(yield* events, "ItemDone").map((done) => done.item).find((item) => item._tag === "ModelMessage")!
      // The transcript keeps it, as incomplete.
      assert.strictEqual(partial.status, "incomplete")
      yield* alice.offer(InputStream.message("two"))
      yield* runEnded("bot", 2)
      const second = (yield* model.requests)[1]!
      assert.isUndefined(second.items.find((item) => item.id === partial.id))
      assert.deepStrictEqual(second.items.map(ContextItem.text), ["alice: one", "alice: two"])
    }).pipe(Effect.provide(Environment.layerMemory())))
})
