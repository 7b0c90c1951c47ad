import { assert, describe, it } from "@effect/vitest"
import { Effect, Ref, Schema, TestClock } from "effect"
import { ContextItem, Environment, Event, InputStream, ScriptedModel, Tool, Toolkit } from "@chorus/core"
import { events, joinAgent, joinHuman, payloads, runEnded } from "../support/agents.js"

const say = (text: string, options?: { readonly to?: ReadonlyArray<string> }) => InputStream.message(text, options)

const lastOutputs = (request: { readonly items: ReadonlyArray<ContextItem.ContextItem> }) =>
  request.items.filter((item): item is ContextItem.FunctionCallOutput => item._tag === "FunctionCallOutput")

describe("Agent", () => {
  it.effect("streams each delta live with the agent as author, item added before its deltas, done after", () =>
    Effect.gen(function*() {
      yield* joinAgent({ id: "writer" }, { turns: [[ScriptedModel.reasoning("Thinking it over"), ScriptedModel.text("Hello there world")]] })
      const alice = yield* joinHuman("alice")
      yield* alice.offer(say("hi"))
      const ended = yield* runEnded("writer")
      assert.strictEqual((ended.payload as Event.RunEnded).outcome, "completed")
      const all = yield* events
      const mine = all.filter((event) => event.author === "writer")
      const runId = (ended.payload as Event.RunEnded).runId
      // Every item event of the run: added, deltas, done, per item, in order.
      const itemEvents = mine.filter((event) => Event.itemIdOf(event.payload) !== undefined)
      const byItem = new Map<string, Array<string>>()
      for (const event of itemEvents) {
        const id = Event.itemIdOf(event.payload)!
        byItem.set(id, [...(byItem.get(id) ?? []), event.payload._tag])
      }
      const sequences = [...byItem.values()]
      assert.deepStrictEqual(sequences[0], ["ItemAdded", "ReasoningSummaryDelta", "ReasoningSummaryDelta", "ReasoningSummaryDelta", "ItemDone"])
      assert.deepStrictEqual(sequences[1], ["ItemAdded", "TextDelta", "TextDelta", "TextDelta", "ItemDone"])
      for (const added of payloads(mine, "ItemAdded")) assert.strictEqual(added.runId, runId)
      const message = payloads(mine, "ItemDone").map((done) => done.item).find((item) => item._tag === "ModelMessage")!
      assert.strictEqual(ContextItem.text(message), "Hello there world")
      assert.strictEqual(message.author, "writer")
      // The state machine is published: idle -> inference -> idle.
      const states = payloads(mine, "StateChanged").map((change) => `${change.from}->${change.to}`)
      assert.deepStrictEqual(states, ["idle->inference", "inference->idle"])
    }).pipe(Effect.provide(Environment.layerMemory())))

  it.effect("deltas are published as the model yields them, not when the inference ends", () =>
    Effect.gen(function*() {
      const env = yield* Environment.Environment
      yield* joinAgent({ id: "slow" }, { turns: [[ScriptedModel.text(["a", "b", "c", "d"])]], latency: "1 second" })
      const alice = yield* joinHuman("alice")
      yield* alice.offer(say("go"))
      yield* env.waitFor((event) => event.payload._tag === "RunStarted")
      yield* TestClock.adjust("2 seconds")
      yield* Effect.yieldNow()
      const midway = payloads(yield* events, "TextDelta").map((delta) => delta.delta)
      assert.deepStrictEqual(midway, ["a", "b"])
      yield* TestClock.adjust("2 seconds")
      yield* runEnded("slow")
    }).pipe(Effect.provide(Environment.layerMemory())))

  it.effect("parallel function calls overlap, outputs are published as they finish and reach the model in call order", () =>
    Effect.gen(function*() {
      const sleepTool = Tool.make("sleep", {
        description: "Sleeps",
        parameters: Schema.Struct({ seconds: Schema.Number, label: Schema.String }),
        handler: ({ label, seconds }) => Effect.as(Effect.sleep(`${seconds} seconds`), `slept ${label}`)
      })
      const model = yield* joinAgent(
        { id: "worker", concurrency: 4 },
        {
          turns: [
            [
              ScriptedModel.functionCall("sleep", { seconds: 3, label: "long" }, { callId: "c1" }),
              ScriptedModel.functionCall("sleep", { seconds: 1, label: "short" }, { callId: "c2" }),
              ScriptedModel.functionCall("sleep", { seconds: 2, label: "mid" }, { callId: "c3" })
            ],
            [ScriptedModel.text("done")]
          ]
        },
        Toolkit.make(sleepTool).layer
      )
      const alice = yield* joinHuman("alice")
      yield* alice.offer(say("work"))
      const env = yield* Environment.Environment
      yield* env.waitFor((event) => event.payload._tag === "FunctionCallStarted" && event.payload.callId === "c3")
      yield* TestClock.adjust("2999 millis")
      yield* Effect.yieldNow()
      // Sequential calls would need 6 seconds; at 2.999 s the two shorter ones are done, the long one is not.
      const completedEarly = payloads(yield* events, "FunctionCallCompleted").map((completed) => completed.callId)
      assert.deepStrictEqual(completedEarly, ["c2", "c3"])
      yield* TestClock.adjust("1 millis")
      yield* runEnded("worker")
      const requests = yield* model.requests
      assert.strictEqual(requests.length, 2)
      const outputs = lastOutputs(requests[1]!)
      assert.deepStrictEqual(outputs.map((output) => output.callId), ["c1", "c2", "c3"])
      assert.deepStrictEqual(outputs.map((output) => output.output), ["slept long", "slept short", "slept mid"])
    }).pipe(Effect.provide(Environment.layerMemory())))

  it.effect("bad tool input becomes an error output the model sees, and the model corrects itself", () =>
    Effect.gen(function*() {
      const add = Tool.make("add", {
        description: "Adds two numbers",
        parameters: Schema.Struct({ a: Schema.Number, b: Schema.Number }),
        handler: ({ a, b }) => Effect.succeed(a + b)
      })
      const failing = Tool.make("fails", {
        description: "Fails",
        parameters: Schema.Struct({}),
        handler: () => Effect.fail(new Tool.ToolFailure({ detail: "disk is full" }))
      })
      const dying = Tool.make("dies", {
        description: "Dies",
        parameters: Schema.Struct({}),
        handler: () => Effect.die(new Error("null pointer"))
      })
      const model = yield* joinAgent(
        { id: "calc" },
        {
          turns: [
            [
              ScriptedModel.functionCall("add", "{not json", { callId: "bad-json" }),
              ScriptedModel.functionCall("add", { a: "one", b: 2 }, { callId: "bad-schema" }),
              ScriptedModel.functionCall("multiply", { a: 1, b: 2 }, { callId: "unknown" }),
              ScriptedModel.functionCall("fails", {}, { callId: "fails" }),
              ScriptedModel.functionCall("dies", {}, { callId: "dies" })
            ],
            // The model reads the error outputs and corrects itself.
            (request) => {
              const errors = lastOutputs(request).filter((output) => output.isError)
              return errors.length === 5 && ContextItem.text(errors[1]!).includes("Expected number")
                ? [ScriptedModel.functionCall("add", { a: 1, b: 2 }, { callId: "fixed" })]
                : [ScriptedModel.text("I did not get the errors I expected")]
            },
            [ScriptedModel.text("1 + 2 = 3")]
          ]
        },
        Toolkit.make(add, failing, dying).layer
      )
      const alice = yield* joinHuman("alice")
      yield* alice.offer(say("add 1 and 2"))
      const ended = yield* runEnded("calc")
      assert.strictEqual((ended.payload as Event.RunEnded).outcome, "completed")
      const requests = yield* model.requests
      assert.strictEqual(requests.length, 3)
      const outputs = lastOutputs(requests[1]!)
      const text = (callId: string) => ContextItem.text(outputs.find((output) => output.callId === callId)!)
      assert.include(text("bad-json"), "not valid JSON")
      assert.include(text("bad-schema"), "Expected number")
      assert.include(text("unknown"), "Unknown tool \"multiply\"")
      assert.include(text("unknown"), "add, fails, dies")
      assert.include(text("fails"), "disk is full")
      assert.include(text("dies"), "null pointer")
      assert.isTrue(outputs.every((output) => output.isError))
      const fixed = lastOutputs(requests[2]!).find((output) => output.callId === "fixed")!
      assert.strictEqual(fixed.output, "3")
      assert.isFalse(fixed.isError)
      const failures = payloads(yield* events, "FunctionCallFailed").map((failed) => failed.callId)
      assert.deepStrictEqual(failures.sort(), ["bad-json", "bad-schema", "dies", "fails", "unknown"])
    }).pipe(Effect.provide(Environment.layerMemory())))

  it.effect("hooks run in order and can rewrite the context, rewrite arguments, veto calls and rewrite outputs", () =>
    Effect.gen(function*() {
      const log = yield* Ref.make<ReadonlyArray<string>>([])
      const note = (entry: string) => Ref.update(log, (all) => [...all, entry])
      const echo = Tool.make("echo", {
        description: "Echoes",
        parameters: Schema.Struct({ text: Schema.String }),
        handler: ({ text }) => Effect.succeed(`echo: ${text}`)
      })
      const model = yield* joinAgent(
        {
          id: "hooked",
          concurrency: 1,
          hooks: [
            {
              onUserMessage: (message) => note(`onUserMessage:${ContextItem.text(message)}`),
              beforeInference: ({ items, turn }) =>
                Effect.as(note(`beforeInference#1:${turn}`), {
                  items: [...items, ContextItem.userText({ id: `note-${turn}`, author: "hook", text: "[injected by hook]" })]
                }),
              beforeFunctionCall: (call) =>
                call.callId === "vetoed"
                  ? Effect.as(note("veto"), { veto: "echo of secrets is not allowed" })
                  : Effect.as(note("rewrite"), { arguments: JSON.stringify({ text: "rewritten" }) }),
              afterFunctionCall: (_call, result) =>
                Effect.as(note("afterFunctionCall#1"), { output: { ...result, output: `${result.output} (checked)` } }),
              afterInference: ({ turn }) => note(`afterInference:${turn}`),
              onModelMessage: (message) => note(`onModelMessage:${ContextItem.text(message)}`)
            },
            {
              beforeInference: ({ items, turn }) =>
                Effect.as(note(`beforeInference#2:${turn}:${items.some((item) => item.id === `note-${turn}`)}`), undefined),
              afterFunctionCall: (_call, result) => Effect.as(note(`afterFunctionCall#2:${result.output}`), undefined)
            }
          ]
        },
        {
          turns: [
            [
              ScriptedModel.functionCall("echo", { text: "original" }, { callId: "allowed" }),
              ScriptedModel.functionCall("echo", { text: "secret" }, { callId: "vetoed" })
            ],
            [ScriptedModel.text("finished")]
          ]
        },
        Toolkit.make(echo).layer
      )
      const alice = yield* joinHuman("alice")
      yield* alice.offer(say("hello"))
      yield* runEnded("hooked")
      const requests = yield* model.requests
      assert.isTrue(requests[0]!.items.some((item) => ContextItem.text(item) === "[injected by hook]"))
      const outputs = lastOutputs(requests[1]!)
      assert.strictEqual(outputs.find((output) => output.callId === "allowed")!.output, "echo: rewritten (checked)")
      const vetoed = outputs.find((output) => output.callId === "vetoed")!
      assert.isTrue(vetoed.isError)
      assert.include(ContextItem.text(vetoed), "not allowed")
      const entries = yield* Ref.get(log)
      // A vetoed call is final: no afterFunctionCall for it.
      assert.deepStrictEqual(entries, [
        "onUserMessage:hello",
        "beforeInference#1:1",
        "beforeInference#2:1:true",
        "afterInference:1",
        "rewrite",
        "afterFunctionCall#1",
        "afterFunctionCall#2:echo: rewritten (checked)",
        "veto",
        "beforeInference#1:2",
        "beforeInference#2:2:true",
        "afterInference:2",
        "onModelMessage:finished"
      ])
    }).pipe(Effect.provide(Environment.layerMemory())))

  it.effect("a reactTo predicate is asked once per message (it may count, as the debate example's does)", () =>
    Effect.gen(function*() {
      const asked: Array<string> = []
      yield* joinAgent(
        {
          id: "counter",
          reactTo: (message) => {
            asked.push(ContextItem.text(message))
            return asked.length === 2
          }
        },
        { turns: [[ScriptedModel.text("second one")]] }
      )
      const alice = yield* joinHuman("alice")
      yield* alice.offer(say("first"))
      yield* alice.offer(say("second"))
      yield* runEnded("counter")
      assert.deepStrictEqual(asked, ["first", "second"])
    }).pipe(Effect.provide(Environment.layerMemory())))

  it.effect("beforeInference can skip the inference", () =>
    Effect.gen(function*() {
      const model = yield* joinAgent(
        { id: "skipper", hooks: { beforeInference: () => Effect.succeed({ skip: true as const }) } },
        { turns: [[ScriptedModel.text("never")]] }
      )
      const alice = yield* joinHuman("alice")
      yield* alice.offer(say("hello"))
      const ended = yield* runEnded("skipper")
      assert.strictEqual((ended.payload as Event.RunEnded).outcome, "skipped")
      assert.strictEqual((yield* model.requests).length, 0)
    }).pipe(Effect.provide(Environment.layerMemory())))

  it.effect("a failing hook is published, ends the run, and the agent stays responsive", () =>
    Effect.gen(function*() {
      let calls = 0
      const model = yield* joinAgent(
        {
          id: "fragile",
          hooks: {
            beforeInference: () => (++calls === 1 ? Effect.fail(new Error("policy service down")) : Effect.void)
          }
        },
        { turns: [[ScriptedModel.text("second time works")]] }
      )
      const alice = yield* joinHuman("alice")
      yield* alice.offer(say("first"))
      const first = yield* runEnded("fragile")
      assert.strictEqual((first.payload as Event.RunEnded).outcome, "failed")
      const failed = payloads(yield* events, "HookFailed")
      assert.strictEqual(failed[0]!.hook, "beforeInference")
      assert.include(failed[0]!.error, "policy service down")
      yield* alice.offer(say("second"))
      const second = yield* runEnded("fragile", 2)
      assert.strictEqual((second.payload as Event.RunEnded).outcome, "completed")
      assert.strictEqual((yield* model.requests).length, 1)
    }).pipe(Effect.provide(Environment.layerMemory())))

  it.effect("a human message triggers exactly the agents that react to it", () =>
    Effect.gen(function*() {
      const everything = yield* joinAgent({ id: "generalist" }, { turns: [[ScriptedModel.text("g1")], [ScriptedModel.text("g2")]] })
      const addressed = yield* joinAgent({ id: "specialist", reactTo: "addressed" }, { turns: [[ScriptedModel.text("s1")]] })
      const listener = yield* joinAgent({ id: "listener", reactTo: { from: ["bob"] } }, { turns: [[ScriptedModel.text("l1")]] })
      const alice = yield* joinHuman("alice")
      yield* alice.offer(say("general question"))
      yield* runEnded("generalist")
      yield* alice.offer(say("@specialist a hard one"))
      yield* runEnded("specialist")
      yield* runEnded("generalist", 2)
      yield* alice.offer(say("only for the listener", { to: ["listener"] }))
      yield* runEnded("listener")
      assert.strictEqual((yield* everything.requests).length, 2)
      assert.strictEqual((yield* addressed.requests).length, 1)
      assert.strictEqual((yield* listener.requests).length, 1)
      const runs = payloads(yield* events, "RunStarted").map((run) => run.participant)
      assert.deepStrictEqual([...runs].sort(), ["generalist", "generalist", "listener", "specialist"])
    }).pipe(Effect.provide(Environment.layerMemory())))

  it.effect("other participants' messages reach the model as attributed user messages; their calls are hidden", () =>
    Effect.gen(function*() {
      const tool = Tool.make("lookup", { description: "", parameters: Schema.Struct({}), handler: () => Effect.succeed("found") })
      yield* joinAgent(
        { id: "bob", reactTo: "addressed" },
        { turns: [[ScriptedModel.functionCall("lookup", {})], [ScriptedModel.text("Bob's answer")]] },
        Toolkit.make(tool).layer
      )
      const carol = yield* joinAgent({ id: "carol", reactTo: { from: ["bob"] } }, { turns: [[ScriptedModel.text("noted")]] })
      const alice = yield* joinHuman("alice")
      yield* alice.offer(say("@bob what is it?"))
      yield* runEnded("carol")
      const request = (yield* carol.requests)[0]!
      const texts = request.items.map((item) => `${item._tag}:${ContextItem.text(item)}`)
      assert.deepStrictEqual(texts, ["UserMessage:alice: @bob what is it?", "UserMessage:bob: Bob's answer"])
    }).pipe(Effect.provide(Environment.layerMemory())))

  it.effect("two agents that trigger each other stop at the exchange cap, and the stop is published", () =>
    Effect.gen(function*() {
      const ping = yield* joinAgent({ id: "ping", reactTo: { from: ["pong"] }, exchangeCap: 3 }, {
        turns: [[ScriptedModel.text("ping!")]],
        whenExhausted: "repeat-last"
      })
      const pong = yield* joinAgent({ id: "pong", reactTo: { from: ["ping"] }, exchangeCap: 3 }, {
        turns: [[ScriptedModel.text("pong!")]],
        whenExhausted: "repeat-last"
      })
      const alice = yield* joinHuman("alice")
      yield* alice.offer(say("start", { to: ["ping"] }))
      const env = yield* Environment.Environment
      const capped = yield* env.waitFor((event) => event.payload._tag === "RunEnded" && event.payload.outcome === "exchange_cap")
      yield* Effect.yieldNow()
      // ping: 1 human-triggered run + 3 agent-triggered; pong: 3 agent-triggered; then the cap.
      assert.strictEqual((yield* ping.requests).length, 4)
      assert.strictEqual((yield* pong.requests).length, 3)
      assert.strictEqual((capped.payload as Event.RunEnded).participant, "pong")
      // A human message resets the count.
      yield* alice.offer(say("again", { to: ["ping"] }))
      yield* runEnded("ping", 5)
      assert.strictEqual((yield* ping.requests).length, 5)
    }).pipe(Effect.provide(Environment.layerMemory())))

  it.effect("a failing participant does not stop the agents", () =>
    Effect.gen(function*() {
      const env = yield* Environment.Environment
      // It dies as it starts: join says so (and its failure is published), the agents go on.
      const error = yield* Effect.flip(env.join({ id: "broken", kind: "observer", run: () => Effect.die(new Error("observer bug")) }))
      assert.strictEqual(error._tag, "ParticipantStartFailed")
      yield* joinAgent({ id: "steady" }, { turns: [[ScriptedModel.text("still here")]] })
      const alice = yield* joinHuman("alice")
      yield* alice.offer(say("are you there?"))
      const ended = yield* runEnded("steady")
      assert.strictEqual((ended.payload as Event.RunEnded).outcome, "completed")
      assert.strictEqual(payloads(yield* events, "ParticipantFailed")[0]!.participant, "broken")
    }).pipe(Effect.provide(Environment.layerMemory())))

  it.effect("an inference failure ends the run as failed and is published", () =>
    Effect.gen(function*() {
      yield* joinAgent({ id: "unlucky" }, { turns: [[ScriptedModel.text("partial "), ScriptedModel.fail("server", "upstream 502")]] })
      const alice = yield* joinHuman("alice")
      yield* alice.offer(say("go"))
      const ended = yield* runEnded("unlucky")
      assert.strictEqual((ended.payload as Event.RunEnded).outcome, "failed")
      const failed = payloads(yield* events, "InferenceFailed")[0]!
      assert.strictEqual(failed.reason, "server")
      assert.include(failed.error, "upstream 502")
    }).pipe(Effect.provide(Environment.layerMemory())))

  it.effect("the turn limit stops a model that keeps calling tools", () =>
    Effect.gen(function*() {
      const tool = Tool.make("again", { description: "", parameters: Schema.Struct({}), handler: () => Effect.succeed("ok") })
      yield* joinAgent(
        { id: "looper", maxTurns: 3 },
        { turns: [[ScriptedModel.functionCall("again", {})]], whenExhausted: "repeat-last" },
        Toolkit.make(tool).layer
      )
      const alice = yield* joinHuman("alice")
      yield* alice.offer(say("loop"))
      const ended = yield* runEnded("looper")
      assert.strictEqual((ended.payload as Event.RunEnded).outcome, "turn_limit")
      assert.strictEqual(payloads(yield* events, "InferenceStarted").length, 3)
    }).pipe(Effect.provide(Environment.layerMemory())))

  it.effect("tool JSON Schemas have no top-level $ref and are strict when the schema allows it", () =>
    Effect.sync(() => {
      class Params extends Schema.Class<Params>("Params")({ path: Schema.String, depth: Schema.Number }) {}
      const strict = Tool.make("strict", { description: "", parameters: Params, handler: () => Effect.void })
      assert.isUndefined(strict.definition.parameters.$ref)
      assert.strictEqual(strict.definition.parameters.type, "object")
      assert.deepStrictEqual(strict.definition.parameters.required, ["path", "depth"])
      assert.isTrue(strict.definition.strict)
      const loose = Tool.make("loose", {
        description: "",
        parameters: Schema.Struct({ path: Schema.String, depth: Schema.optional(Schema.Number) }),
        handler: () => Effect.void
      })
      assert.isFalse(loose.definition.strict)
      const nullable = Tool.make("nullable", {
        description: "",
        parameters: Schema.Struct({ path: Schema.String, depth: Schema.NullOr(Schema.Number) }),
        handler: () => Effect.void
      })
      assert.isTrue(nullable.definition.strict)
    }))

  it.effect("joining the same agent twice is refused", () =>
    Effect.gen(function*() {
      yield* joinAgent({ id: "twin" }, { turns: [] })
      const error = yield* Effect.flip(joinAgent({ id: "twin" }, { turns: [] }))
      assert.strictEqual(error._tag, "ParticipantAlreadyJoined")
    }).pipe(Effect.provide(Environment.layerMemory())))
})
