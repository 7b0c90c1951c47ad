import { assert, describe, it } from "@effect/vitest"
import { Effect, Ref, Schema, TestClock } from "effect"
import { ContextItem, Environment, Event, Human, InputStream, ScriptedModel, Tool, Toolkit } from "@chorus/core"
import { events, joinAgent, joinHuman, payloads, runEnded, runEndedAdvancing } from "../support/agents.js"

const say = InputStream.message

/** A request is valid for a model when every function call has an output. */
const everyCallAnswered = (items: ReadonlyArray<ContextItem.ContextItem>) => {
  const outputs = new Set(items.flatMap((item) => item._tag === "FunctionCallOutput" ? [item.callId] : []))
  return items.every((item) => item._tag !== "FunctionCall" || outputs.has(item.callId))
}

describe("Stop", () => {
  it.effect("interrupting mid-stream keeps the partial answer as incomplete and the next request is valid", () =>
    Effect.gen(function*() {
      const env = yield* Environment.Environment
      const model = yield* joinAgent({ id: "talker" }, {
        turns: [[ScriptedModel.text(["one ", "two ", "three ", "four ", "five"])], [ScriptedModel.text("ok")]],
        latency: "1 second"
      })
      const alice = yield* joinHuman("alice")
      yield* alice.offer(say("count"))
      const started = yield* env.waitFor((event) => event.payload._tag === "RunStarted")
      yield* TestClock.adjust("2500 millis")
      const runId = (started.payload as Event.RunStarted).runId
      yield* alice.offer(new InputStream.Interrupt({ participant: "talker", runId }))
      const ended = yield* runEnded("talker")
      assert.strictEqual((ended.payload as Event.RunEnded).outcome, "interrupted")
      const all = yield* events
      const partial = payloads(all, "ItemDone").map((done) => done.item).find((item) => item._tag === "ModelMessage")!
      assert.strictEqual(partial.status, "incomplete")
      assert.strictEqual(ContextItem.text(partial), "one two ")
      const interrupted = payloads(all, "RunInterrupted")[0]!
      assert.deepStrictEqual(interrupted.incompleteItems, [partial.id])
      assert.strictEqual(payloads(all, "InferenceInterrupted").length, 1)
      // No delta after the interrupt, even when time goes on.
      yield* TestClock.adjust("10 seconds")
      assert.strictEqual(payloads(yield* events, "TextDelta").length, 2)
      // The agent is idle and handles the next message with the partial answer in its context.
      yield* alice.offer(say("go on"))
      yield* runEndedAdvancing("talker", 2)
      const second = (yield* model.requests)[1]!
      const kept = second.items.find((item) => item.id === partial.id)!
      assert.strictEqual(kept.status, "incomplete")
      assert.strictEqual(ContextItem.text(kept), "one two ")
    }).pipe(Effect.provide(Environment.layerMemory())))

  it.effect("interrupting running tools interrupts their fibers and gives each call a cancelled output", () =>
    Effect.gen(function*() {
      const env = yield* Environment.Environment
      const interrupted = yield* Ref.make<ReadonlyArray<string>>([])
      const slow = Tool.make("slow", {
        description: "Takes a while",
        parameters: Schema.Struct({ name: Schema.String }),
        handler: ({ name }) =>
          Effect.sleep("1 minute").pipe(
            Effect.as("finished"),
            Effect.onInterrupt(() => Ref.update(interrupted, (all) => [...all, name]))
          )
      })
      const fast = Tool.make("fast", { description: "", parameters: Schema.Struct({}), handler: () => Effect.succeed("quick") })
      const model = yield* joinAgent(
        { id: "builder" },
        {
          turns: [
            [
              ScriptedModel.functionCall("slow", { name: "a" }, { callId: "a" }),
              ScriptedModel.functionCall("fast", {}, { callId: "f" }),
              ScriptedModel.functionCall("slow", { name: "b" }, { callId: "b" })
            ],
            [ScriptedModel.text("after the stop")]
          ]
        },
        Toolkit.make(slow, fast).layer
      )
      const alice = yield* joinHuman("alice")
      yield* alice.offer(say("build"))
      yield* env.waitFor((event) => event.payload._tag === "FunctionCallCompleted" && event.payload.callId === "f")
      yield* TestClock.adjust("10 seconds")
      yield* env.interrupt({ participant: "builder", by: "alice" })
      yield* runEnded("builder")
      assert.deepStrictEqual([...(yield* Ref.get(interrupted))].sort(), ["a", "b"])
      const all = yield* events
      const run = payloads(all, "RunInterrupted")[0]!
      assert.deepStrictEqual([...run.cancelledCalls].sort(), ["a", "b"])
      assert.deepStrictEqual(payloads(all, "FunctionCallCancelled").map((cancelled) => cancelled.callId).sort(), ["a", "b"])
      const outputs = payloads(all, "ItemDone").map((done) => done.item).filter((item) => item._tag === "FunctionCallOutput")
      assert.deepStrictEqual(outputs.map((output) => output.callId).sort(), ["a", "b", "f"])
      // A minute later, the interrupted tools still have not finished.
      yield* TestClock.adjust("2 minutes")
      assert.strictEqual(payloads(yield* events, "FunctionCallCompleted").length, 1)
      yield* alice.offer(say("what happened?"))
      yield* runEnded("builder", 2)
      const next = (yield* model.requests)[1]!
      assert.isTrue(everyCallAnswered(next.items))
      const cancelled = next.items.find((item) => item._tag === "FunctionCallOutput" && item.callId === "a")!
      assert.include(ContextItem.text(cancelled), "cancelled")
    }).pipe(Effect.provide(Environment.layerMemory())))

  it.effect("an interrupt for an idle agent or an ended run is published as having had no effect", () =>
    Effect.gen(function*() {
      const env = yield* Environment.Environment
      yield* joinAgent({ id: "idle" }, { turns: [[ScriptedModel.text("done")]] })
      yield* env.interrupt({ participant: "idle" })
      const ignored = yield* env.waitFor((event) => event.payload._tag === "InterruptIgnored")
      assert.include((ignored.payload as Event.InterruptIgnored).reason, "idle")
      const alice = yield* joinHuman("alice")
      yield* alice.offer(say("hi"))
      const ended = yield* runEnded("idle")
      const runId = (ended.payload as Event.RunEnded).runId
      yield* env.interrupt({ participant: "idle", runId })
      let count = 0
      const second = yield* env.waitFor((event) => event.payload._tag === "InterruptIgnored" && ++count === 2)
      assert.strictEqual((second.payload as Event.InterruptIgnored).runId, runId)
      assert.strictEqual(payloads(yield* events, "RunInterrupted").length, 0)
    }).pipe(Effect.provide(Environment.layerMemory())))

  it.effect("an interrupt that races the start of a run applies to that run", () =>
    Effect.gen(function*() {
      const env = yield* Environment.Environment
      yield* joinAgent({ id: "racer" }, { turns: [[ScriptedModel.text("should not finish")]], latency: "1 second" })
      yield* env.join({ id: "alice", kind: "human", accepts: () => false, run: () => Effect.never })
      const item = ContextItem.userText({ id: "m1", author: "alice", text: "start" })
      // The message and the interrupt are published back to back, before the agent has even seen the message.
      yield* env.publishAll("alice", [
        new Event.ItemAdded({ item, runId: null }),
        new Event.ItemDone({ item, runId: null }),
        new Event.InterruptRequested({ participant: "racer", runId: null })
      ])
      const ended = yield* runEnded("racer")
      assert.strictEqual((ended.payload as Event.RunEnded).outcome, "interrupted")
      assert.strictEqual(payloads(yield* events, "InterruptIgnored").length, 0)
    }).pipe(Effect.provide(Environment.layerMemory())))
})

describe("Input while busy", () => {
  it.effect("10,000 messages sent in a burst while busy are all handled, in order, none lost or duplicated", () =>
    Effect.gen(function*() {
      const env = yield* Environment.Environment
      const model = yield* joinAgent({ id: "busy" }, {
        turns: [[ScriptedModel.pause("1 minute"), ScriptedModel.text("first done")], [ScriptedModel.text("all read")]]
      })
      const alice = yield* joinHuman("alice")
      yield* alice.offer(say("first"))
      yield* env.waitFor((event) => event.payload._tag === "InferenceStarted")
      const count = 10_000
      yield* alice.offerAll(Array.from({ length: count }, (_, i) => say(`message ${i}`)))
      let queuedSeen = 0
      yield* env.waitFor((event) => event.payload._tag === "InputQueued" && ++queuedSeen === count)
      yield* TestClock.adjust("1 minute")
      yield* runEnded("busy", 2)
      const all = yield* events
      const sent = payloads(all, "ItemDone").map((done) => done.item).filter((item) => item.author === "alice").slice(1)
      assert.strictEqual(sent.length, count)
      const queued = payloads(all, "InputQueued").map((queued) => queued.itemId)
      const dequeued = payloads(all, "InputDequeued").map((dequeued) => dequeued.itemId)
      assert.deepStrictEqual(queued, sent.map((item) => item.id))
      assert.deepStrictEqual(dequeued, queued)
      // The queued messages were not in the busy run's context, and all are in the next one, once each, in order.
      const [first, second] = yield* model.requests
      assert.strictEqual(first!.items.length, 1)
      const texts = second!.items.filter((item) => item._tag === "UserMessage").map(ContextItem.text)
      assert.deepStrictEqual(texts, ["alice: first", ...Array.from({ length: count }, (_, i) => `alice: message ${i}`)])
      assert.strictEqual(payloads(all, "RunStarted").length, 2)
    }).pipe(Effect.provide(Environment.layerMemory())))

  it.effect("steer adds the message before the next model call of the current run, after the function calls", () =>
    Effect.gen(function*() {
      const env = yield* Environment.Environment
      const tool = Tool.make("wait", {
        description: "",
        parameters: Schema.Struct({}),
        handler: () => Effect.as(Effect.sleep("5 seconds"), "waited")
      })
      const model = yield* joinAgent(
        { id: "steerable" },
        { turns: [[ScriptedModel.functionCall("wait", {}, { callId: "w" })], [ScriptedModel.text("adjusted")]] },
        Toolkit.make(tool).layer
      )
      const alice = yield* joinHuman("alice")
      yield* alice.offer(say("do it"))
      yield* env.waitFor((event) => event.payload._tag === "FunctionCallStarted")
      yield* alice.offer(say("use the blue one", { policy: "steer" }))
      yield* env.waitFor((event) => event.payload._tag === "ItemDone" && ContextItem.text(event.payload.item) === "use the blue one")
      yield* TestClock.adjust("5 seconds")
      const ended = yield* runEnded("steerable")
      const [first, second] = yield* model.requests
      assert.isFalse(first!.items.some((item) => ContextItem.text(item).includes("blue")))
      const tags = second!.items.map((item) => `${item._tag}:${ContextItem.text(item)}`)
      assert.deepStrictEqual(tags, [
        "UserMessage:alice: do it",
        "FunctionCall:{}",
        "FunctionCallOutput:waited",
        "UserMessage:alice: use the blue one"
      ])
      const steered = payloads(yield* events, "InputSteered")[0]!
      assert.strictEqual(steered.runId, (ended.payload as Event.RunEnded).runId)
      assert.strictEqual(payloads(yield* events, "RunStarted").length, 1)
    }).pipe(Effect.provide(Environment.layerMemory())))

  it.effect("interrupt policy stops the current run and handles the message; drop refuses it visibly", () =>
    Effect.gen(function*() {
      const env = yield* Environment.Environment
      const model = yield* joinAgent({ id: "agent", busyPolicy: "drop" }, {
        turns: [[ScriptedModel.text(["slow ", "answer ", "here"])], [ScriptedModel.text("new topic")]],
        latency: "1 second"
      })
      const alice = yield* joinHuman("alice")
      yield* alice.offer(say("first"))
      yield* env.waitFor((event) => event.payload._tag === "InferenceStarted")
      yield* TestClock.adjust("1 second")
      yield* env.waitFor((event) => event.payload._tag === "TextDelta")
      yield* alice.offer(say("ignored while busy"))
      const dropped = yield* env.waitFor((event) => event.payload._tag === "InputDropped")
      assert.strictEqual((dropped.payload as Event.InputDropped).participant, "agent")
      yield* alice.offer(say("stop, new topic", { policy: "interrupt" }))
      const first = yield* runEnded("agent")
      assert.strictEqual((first.payload as Event.RunEnded).outcome, "interrupted")
      const second = yield* runEndedAdvancing("agent", 2)
      assert.strictEqual((second.payload as Event.RunEnded).outcome, "completed")
      const request = (yield* model.requests)[1]!
      const texts = request.items.map(ContextItem.text)
      assert.isTrue(texts.includes("alice: stop, new topic"))
      assert.isFalse(texts.some((text) => text.includes("ignored while busy")))
      assert.isTrue(texts.includes("slow "), "the interrupted partial answer is kept")
    }).pipe(Effect.provide(Environment.layerMemory())))
})

describe("Approvals", () => {
  const deleteTool = (deleted: Ref.Ref<ReadonlyArray<string>>) =>
    Tool.make("delete_file", {
      description: "Deletes a file",
      parameters: Schema.Struct({ path: Schema.String }),
      approval: "always",
      handler: ({ path }) => Effect.as(Ref.update(deleted, (all) => [...all, path]), `deleted ${path}`)
    })

  it.effect("a call waits for approval, runs once after it; a second answer, an unknown call and a non-approver are refused", () =>
    Effect.gen(function*() {
      const env = yield* Environment.Environment
      const deleted = yield* Ref.make<ReadonlyArray<string>>([])
      yield* joinAgent(
        { id: "ops" },
        { turns: [[ScriptedModel.functionCall("delete_file", { path: "/tmp/x" }, { callId: "del" })], [ScriptedModel.text("deleted")]] },
        Toolkit.make(deleteTool(deleted)).layer
      )
      const alice = yield* joinHuman("alice")
      yield* env.join({ id: "bot", kind: "agent", accepts: () => false, run: () => Effect.never })
      yield* alice.offer(say("delete /tmp/x"))
      yield* env.waitFor((event) => event.payload._tag === "ApprovalRequested")
      assert.deepStrictEqual(yield* Ref.get(deleted), [])
      // An agent is not allowed to approve.
      yield* env.publish("bot", new Event.ApprovalAnswered({ callId: "del", approved: true, reason: null }))
      const notAllowed = yield* env.waitFor((event) => event.payload._tag === "ApprovalAnswerRefused")
      assert.strictEqual((notAllowed.payload as Event.ApprovalAnswerRefused).reason, "not_allowed")
      assert.deepStrictEqual(yield* Ref.get(deleted), [])
      yield* alice.offer(new InputStream.Approval({ callId: "del", approved: true, reason: null }))
      yield* alice.offer(new InputStream.Approval({ callId: "del", approved: false, reason: "changed my mind" }))
      yield* alice.offer(new InputStream.Approval({ callId: "nope", approved: true, reason: null }))
      yield* runEnded("ops")
      let refusals = 0
      yield* env.waitFor((event) => event.payload._tag === "ApprovalAnswerRefused" && ++refusals === 3)
      assert.deepStrictEqual(yield* Ref.get(deleted), ["/tmp/x"])
      const all = yield* events
      const refused = payloads(all, "ApprovalAnswerRefused").map((refused) => `${refused.callId}:${refused.reason}:${refused.by}`)
      // The human refuses the unknown call itself and the agent the second answer: the two may interleave either way.
      assert.deepStrictEqual([...refused].sort(), ["del:already_answered:alice", "del:not_allowed:bot", "nope:unknown_call:alice"])
      const approved = payloads(all, "FunctionCallApproved")
      assert.deepStrictEqual(approved.map((a) => `${a.callId}:${a.by}`), ["del:alice"])
      assert.strictEqual(payloads(all, "FunctionCallRejected").length, 0)
      // The lifecycle, keyed by call id, in order.
      const lifecycle = all.map((event) => event.payload).filter((payload) =>
        "callId" in payload && payload.callId === "del" && payload._tag !== "ApprovalAnswered" && payload._tag !== "ApprovalAnswerRefused"
      ).map((payload) => payload._tag)
      assert.deepStrictEqual(lifecycle, ["FunctionCallRequested", "ApprovalRequested", "FunctionCallApproved", "FunctionCallStarted", "FunctionCallCompleted"])
    }).pipe(Effect.provide(Environment.layerMemory())))

  it.effect("a rejected call gets an output telling the model why, and never runs", () =>
    Effect.gen(function*() {
      const env = yield* Environment.Environment
      const deleted = yield* Ref.make<ReadonlyArray<string>>([])
      const model = yield* joinAgent(
        { id: "ops" },
        { turns: [[ScriptedModel.functionCall("delete_file", { path: "/etc" }, { callId: "del" })], [ScriptedModel.text("ok, I won't")]] },
        Toolkit.make(deleteTool(deleted)).layer
      )
      const alice = yield* joinHuman("alice")
      yield* alice.offer(say("clean up"))
      yield* env.waitFor((event) => event.payload._tag === "ApprovalRequested")
      yield* alice.offer(new InputStream.Approval({ callId: "del", approved: false, reason: "that is a system directory" }))
      yield* runEnded("ops")
      assert.deepStrictEqual(yield* Ref.get(deleted), [])
      const output = (yield* model.requests)[1]!.items.find((item) => item._tag === "FunctionCallOutput")!
      assert.include(ContextItem.text(output), "rejected by alice")
      assert.include(ContextItem.text(output), "that is a system directory")
      const rejected = payloads(yield* events, "FunctionCallRejected")[0]!
      assert.strictEqual(rejected.by, "alice")
    }).pipe(Effect.provide(Environment.layerMemory())))

  it.effect("approval policies: per tool, per agent, and a predicate over the arguments", () =>
    Effect.gen(function*() {
      const env = yield* Environment.Environment
      const write = Tool.make("write", {
        description: "",
        parameters: Schema.Struct({ path: Schema.String }),
        handler: ({ path }) => Effect.succeed(`wrote ${path}`)
      })
      yield* joinAgent(
        { id: "careful", approval: { tools: { write: (args) => String((args as { path: string }).path).startsWith("/etc") } } },
        {
          turns: [[
            ScriptedModel.functionCall("write", { path: "/tmp/a" }, { callId: "safe" }),
            ScriptedModel.functionCall("write", { path: "/etc/passwd" }, { callId: "risky" })
          ], [ScriptedModel.text("done")]]
        },
        Toolkit.make(write).layer
      )
      const alice = yield* joinHuman("alice")
      yield* alice.offer(say("write both"))
      const requested = yield* env.waitFor((event) => event.payload._tag === "ApprovalRequested")
      assert.strictEqual((requested.payload as Event.ApprovalRequested).callId, "risky")
      yield* env.waitFor((event) => event.payload._tag === "FunctionCallCompleted" && event.payload.callId === "safe")
      yield* alice.offer(new InputStream.Approval({ callId: "risky", approved: true, reason: null }))
      yield* runEnded("careful")
      assert.strictEqual(payloads(yield* events, "ApprovalRequested").length, 1)
    }).pipe(Effect.provide(Environment.layerMemory())))

  it.effect("an unanswered approval times out as a rejection (TestClock)", () =>
    Effect.gen(function*() {
      const env = yield* Environment.Environment
      const deleted = yield* Ref.make<ReadonlyArray<string>>([])
      yield* joinAgent(
        { id: "ops", approval: { timeout: "5 minutes" } },
        { turns: [[ScriptedModel.functionCall("delete_file", { path: "/tmp/y" }, { callId: "del" })], [ScriptedModel.text("timed out")]] },
        Toolkit.make(deleteTool(deleted)).layer
      )
      const alice = yield* joinHuman("alice")
      yield* alice.offer(say("delete it"))
      yield* env.waitFor((event) => event.payload._tag === "ApprovalRequested")
      yield* TestClock.adjust("4 minutes")
      assert.strictEqual(payloads(yield* events, "FunctionCallRejected").length, 0)
      yield* TestClock.adjust("1 minute")
      const rejected = yield* env.waitFor((event) => event.payload._tag === "FunctionCallRejected")
      assert.strictEqual((rejected.payload as Event.FunctionCallRejected).by, "timeout")
      yield* runEnded("ops")
      // A late answer is refused: the call was already decided.
      yield* alice.offer(new InputStream.Approval({ callId: "del", approved: true, reason: null }))
      const refused = yield* env.waitFor((event) => event.payload._tag === "ApprovalAnswerRefused")
      assert.strictEqual((refused.payload as Event.ApprovalAnswerRefused).reason, "already_answered")
      assert.deepStrictEqual(yield* Ref.get(deleted), [])
    }).pipe(Effect.provide(Environment.layerMemory())))

  it.effect("interrupting a run that waits for approval cancels the pending approval", () =>
    Effect.gen(function*() {
      const env = yield* Environment.Environment
      const deleted = yield* Ref.make<ReadonlyArray<string>>([])
      yield* joinAgent(
        { id: "ops" },
        { turns: [[ScriptedModel.functionCall("delete_file", { path: "/tmp/z" }, { callId: "del" })]] },
        Toolkit.make(deleteTool(deleted)).layer
      )
      const alice = yield* joinHuman("alice")
      yield* alice.offer(say("delete"))
      yield* env.waitFor((event) => event.payload._tag === "ApprovalRequested")
      yield* alice.offer(new InputStream.Interrupt({ participant: "ops", runId: null }))
      yield* runEnded("ops")
      const cancelled = payloads(yield* events, "FunctionCallCancelled")
      assert.deepStrictEqual(cancelled.map((c) => c.callId), ["del"])
      // Approving after the interrupt does nothing.
      yield* alice.offer(new InputStream.Approval({ callId: "del", approved: true, reason: null }))
      yield* Effect.yieldNow()
      yield* TestClock.adjust("1 second")
      assert.deepStrictEqual(yield* Ref.get(deleted), [])
      assert.strictEqual(payloads(yield* events, "FunctionCallStarted").length, 0)
    }).pipe(Effect.provide(Environment.layerMemory())))
})

describe("Clarification", () => {
  it.effect("ask_human pauses the run until a person answers; the answer is the tool output", () =>
    Effect.gen(function*() {
      const env = yield* Environment.Environment
      const model = yield* joinAgent(
        { id: "asker", askHuman: true },
        { turns: [[ScriptedModel.functionCall("ask_human", { question: "Which color?" }, { callId: "q" })], [ScriptedModel.text("blue it is")]] }
      )
      const alice = yield* joinHuman("alice")
      yield* alice.offer(say("paint it"))
      const asked = yield* env.waitFor((event) => event.payload._tag === "ClarificationRequested")
      assert.strictEqual((asked.payload as Event.ClarificationRequested).question, "Which color?")
      assert.isTrue((yield* model.requests)[0]!.tools.some((tool) => tool.name === "ask_human"))
      yield* TestClock.adjust("1 hour")
      assert.strictEqual(payloads(yield* events, "RunEnded").length, 0)
      yield* alice.offer(new InputStream.Answer({ callId: "q", answer: "blue" }))
      yield* runEnded("asker")
      const output = (yield* model.requests)[1]!.items.find((item) => item._tag === "FunctionCallOutput")!
      assert.strictEqual(output.output, "blue")
    }).pipe(Effect.provide(Environment.layerMemory())))

  it.effect("an interrupt while waiting for the answer stops the run like any other", () =>
    Effect.gen(function*() {
      const env = yield* Environment.Environment
      yield* joinAgent(
        { id: "asker", askHuman: true },
        { turns: [[ScriptedModel.functionCall("ask_human", { question: "Sure?" }, { callId: "q" })]] }
      )
      yield* Human.say("alice", "go").pipe(Effect.zipRight(Effect.void))
      yield* env.waitFor((event) => event.payload._tag === "ClarificationRequested")
      yield* env.interrupt({ participant: "asker" })
      const ended = yield* runEnded("asker")
      assert.strictEqual((ended.payload as Event.RunEnded).outcome, "interrupted")
      const output = payloads(yield* events, "ItemDone").map((done) => done.item).find((item) => item._tag === "FunctionCallOutput")!
      assert.include(ContextItem.text(output), "cancelled")
    }).pipe(Effect.provide(Environment.layerMemory())))
})
