import { assert, describe, it } from "@effect/vitest"
import { Duration, Effect, Layer, Ref, Schema, TestClock } from "effect"
import { Agent, ContextItem, Environment, Event, Human, InputStream, Journal, ScriptedModel, Tool, Toolkit } from "@chorus/core"
import { events, joinHuman, payloads, runEnded } from "../support/agents.js"

/** One journal shared by two environment lifetimes: the second resumes where the first stopped. */
const lifetimes = Effect.gen(function*() {
  const journal = yield* Journal.makeMemory
  const environment = Environment.layer().pipe(Layer.provide(Layer.succeed(Journal.Journal, journal)), Layer.orDie)
  return <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.provide(effect, environment)
})

const counterTool = (runs: Ref.Ref<ReadonlyArray<string>>, options?: { readonly sleep?: Duration.DurationInput }) =>
  Tool.make("deploy", {
    description: "Deploys",
    parameters: Schema.Struct({ target: Schema.String }),
    approval: "always",
    handler: ({ target }) =>
      Effect.zipRight(Ref.update(runs, (all) => [...all, target]), Effect.as(Effect.sleep(options?.sleep ?? "0 millis"), `deployed ${target}`))
  })

const joinOps = (turns: ReadonlyArray<ScriptedModel.Turn>, toolkit: Toolkit.Toolkit, latency?: Duration.DurationInput) =>
  Effect.gen(function*() {
    const env = yield* Environment.Environment
    const model = yield* ScriptedModel.make({ turns, latency })
    yield* env.join(Agent.make({ id: "ops" })).pipe(Effect.provide(model.layer), Effect.provide(toolkit.layer))
    return model
  })

describe("Resume after a restart", () => {
  it.effect("a pending approval is still pending, and approving it runs the call exactly once", () =>
    Effect.gen(function*() {
      const inEnvironment = yield* lifetimes
      const runs = yield* Ref.make<ReadonlyArray<string>>([])
      const toolkit = Toolkit.make(counterTool(runs))
      yield* inEnvironment(Effect.gen(function*() {
        const env = yield* Environment.Environment
        yield* joinOps([[ScriptedModel.functionCall("deploy", { target: "prod" }, { callId: "d1" })]], toolkit)
        yield* Human.say("alice", "deploy prod")
        yield* env.waitFor((event) => event.payload._tag === "ApprovalRequested")
      }))
      // The process is gone; a new one starts on the same journal.
      const model = yield* inEnvironment(Effect.gen(function*() {
        const env = yield* Environment.Environment
        const model = yield* joinOps([[ScriptedModel.text("prod is deployed")]], toolkit)
        const alice = yield* joinHuman("alice")
        yield* Effect.yieldNow()
        assert.deepStrictEqual(yield* Ref.get(runs), [])
        yield* alice.offer(new InputStream.Approval({ callId: "d1", approved: true, reason: null }))
        const ended = yield* runEnded("ops")
        assert.strictEqual((ended.payload as Event.RunEnded).outcome, "completed")
        // A second approval is refused, the call does not run again.
        yield* alice.offer(new InputStream.Approval({ callId: "d1", approved: true, reason: null }))
        yield* env.waitFor((event) => event.payload._tag === "ApprovalAnswerRefused")
        return model
      }))
      assert.deepStrictEqual(yield* Ref.get(runs), ["prod"])
      const [request] = yield* model.requests
      const output = request!.items.find((item) => item._tag === "FunctionCallOutput")!
      assert.strictEqual(output.output, "deployed prod")
    }))

  it.effect("an approval answered the moment the agent rejoins, before it has caught up, is not lost", () =>
    Effect.gen(function*() {
      const inEnvironment = yield* lifetimes
      const runs = yield* Ref.make<ReadonlyArray<string>>([])
      const toolkit = Toolkit.make(counterTool(runs))
      yield* inEnvironment(Effect.gen(function*() {
        const env = yield* Environment.Environment
        yield* joinOps([[ScriptedModel.functionCall("deploy", { target: "prod" }, { callId: "d1" })]], toolkit)
        yield* Human.say("alice", "deploy prod")
        yield* env.waitFor((event) => event.payload._tag === "ApprovalRequested")
      }))
      yield* inEnvironment(Effect.gen(function*() {
        const env = yield* Environment.Environment
        yield* joinHuman("alice")
        yield* joinOps([[ScriptedModel.text("done")]], toolkit)
        // No yield: the answer is published before the agent has replayed its history.
        yield* env.publish("alice", new Event.ApprovalAnswered({ callId: "d1", approved: true, reason: null }))
        const ended = yield* runEnded("ops")
        assert.strictEqual((ended.payload as Event.RunEnded).outcome, "completed")
      }))
      assert.deepStrictEqual(yield* Ref.get(runs), ["prod"])
    }))

  it.effect("a call approved but not started runs once; one started but not finished is never re-run", () =>
    Effect.gen(function*() {
      const inEnvironment = yield* lifetimes
      const runs = yield* Ref.make<ReadonlyArray<string>>([])
      const toolkit = Toolkit.make(counterTool(runs, { sleep: "1 hour" }))
      yield* inEnvironment(Effect.gen(function*() {
        const env = yield* Environment.Environment
        yield* joinOps([[
          ScriptedModel.functionCall("deploy", { target: "staging" }, { callId: "started" }),
          ScriptedModel.functionCall("deploy", { target: "prod" }, { callId: "approved" })
        ]], toolkit)
        const alice = yield* joinHuman("alice")
        yield* Human.say("alice", "deploy both")
        let requested = 0
        yield* env.waitFor((event) => event.payload._tag === "ApprovalRequested" && ++requested === 2)
        yield* alice.offer(new InputStream.Approval({ callId: "started", approved: true, reason: null }))
        yield* env.waitFor((event) => event.payload._tag === "FunctionCallStarted" && event.payload.callId === "started")
      }))
      // "approved" is approved, and the process dies before it starts: the approval lands in the journal
      // (written by a lifetime the agent is not part of; leaving would close its run, a death does not).
      yield* inEnvironment(Effect.flatMap(Environment.Environment, (env) =>
        env.publish("ops", new Event.FunctionCallApproved({ callId: "approved", by: "alice" }))))
      assert.deepStrictEqual(yield* Ref.get(runs), ["staging"])
      const model = yield* inEnvironment(Effect.gen(function*() {
        const model = yield* joinOps([[ScriptedModel.text("one was interrupted")]], toolkit)
        yield* TestClock.adjust("1 hour")
        yield* runEnded("ops")
        return model
      }))
      assert.deepStrictEqual(yield* Ref.get(runs), ["staging", "prod"])
      const outputs = (yield* model.requests)[0]!.items.filter((item) => item._tag === "FunctionCallOutput")
      const byCall = new Map(outputs.map((output) => [output.callId, output]))
      assert.include(ContextItem.text(byCall.get("started")!), "interrupted by a restart")
      assert.isTrue(byCall.get("started")!.isError)
      assert.strictEqual(byCall.get("approved")!.output, "deployed prod")
    }))

  it.effect("a run cut mid-stream ends as interrupted with its partial output kept; queued input is still queued", () =>
    Effect.gen(function*() {
      const inEnvironment = yield* lifetimes
      yield* inEnvironment(Effect.gen(function*() {
        const env = yield* Environment.Environment
        yield* joinOps([[ScriptedModel.text(["half ", "an ", "answer ", "never ", "finished"])]], Toolkit.empty, "1 second")
        yield* Human.say("alice", "explain")
        yield* env.waitFor((event) => event.payload._tag === "InferenceStarted")
        yield* TestClock.adjust("2 seconds")
        yield* Human.say("alice", "and also this")
        yield* env.waitFor((event) => event.payload._tag === "InputQueued")
      }))
      const model = yield* inEnvironment(Effect.gen(function*() {
        const model = yield* joinOps([[ScriptedModel.text("picked up")]], Toolkit.empty)
        yield* runEnded("ops", 2)
        return model
      }))
      const all = yield* inEnvironment(events)
      const cut = payloads(all, "RunEnded")[0]!
      assert.strictEqual(cut.outcome, "interrupted")
      assert.include(cut.detail ?? "", "restart")
      const partial = payloads(all, "ItemDone").map((done) => done.item).find((item) => item._tag === "ModelMessage")!
      assert.strictEqual(partial.status, "incomplete")
      assert.strictEqual(ContextItem.text(partial), "half an ")
      const [request] = yield* model.requests
      const texts = request!.items.map((item) => `${item._tag}:${item.status}:${ContextItem.text(item)}`)
      assert.deepStrictEqual(texts, [
        "UserMessage:completed:alice: explain",
        "ModelMessage:incomplete:half an ",
        "UserMessage:completed:alice: and also this"
      ])
      assert.strictEqual(payloads(all, "InputDequeued").length, 1)
    }))

  it.effect("a message that arrived just before the process died is handled after the restart", () =>
    Effect.gen(function*() {
      const inEnvironment = yield* lifetimes
      yield* inEnvironment(joinOps([[ScriptedModel.text("never played")]], Toolkit.empty))
      // Published and journaled after the agent joined, and the process died before the agent could look at
      // it (written by a lifetime the agent is not part of: the journal says it joined and never left).
      yield* inEnvironment(Human.say("alice", "are you there?"))
      const model = yield* inEnvironment(Effect.gen(function*() {
        const model = yield* joinOps([[ScriptedModel.text("yes")]], Toolkit.empty)
        yield* runEnded("ops")
        return model
      }))
      const [request] = yield* model.requests
      assert.deepStrictEqual(request!.items.map(ContextItem.text), ["alice: are you there?"])
    }))

  it.effect("after the restart, a message another agent sent just before the crash starts no run; a human's does", () =>
    Effect.gen(function*() {
      const inEnvironment = yield* lifetimes
      yield* inEnvironment(joinOps([[ScriptedModel.text("never played")]], Toolkit.empty))
      // Another agent and a human spoke while ops was present; the process died before ops looked at either.
      yield* inEnvironment(Effect.gen(function*() {
        const env = yield* Environment.Environment
        yield* env.publish("helper", new Event.ParticipantJoined({ participant: "helper", kind: "agent" }))
        const said = ContextItem.userText({ id: "helper_msg", author: "helper", text: "I am an agent talking" })
        yield* env.publish("helper", new Event.ItemAdded({ item: said, runId: null }))
        yield* env.publish("helper", new Event.ItemDone({ item: said, runId: null }))
      }))
      yield* inEnvironment(Human.say("alice", "are you there?"))
      const model = yield* inEnvironment(Effect.gen(function*() {
        const model = yield* joinOps([[ScriptedModel.text("yes")]], Toolkit.empty)
        yield* runEnded("ops")
        return model
      }))
      const requests = yield* model.requests
      assert.strictEqual(requests.length, 1)
      assert.deepStrictEqual(requests[0]!.items.map(ContextItem.text), ["helper: I am an agent talking", "alice: are you there?"])
      // The run is alice's: the agent's message was seen, not handled.
      const journal = yield* inEnvironment(events)
      const started = payloads(journal, "RunStarted").filter((run) => run.participant === "ops")
      assert.strictEqual(started.length, 1)
      assert.notStrictEqual(started[0]!.trigger, "helper_msg")
      assert.isFalse(payloads(journal, "InputQueued").some((queued) => queued.itemId === "helper_msg"))
    }))

  it.effect("sequence numbers continue across lifetimes", () =>
    Effect.gen(function*() {
      const inEnvironment = yield* lifetimes
      const first = yield* inEnvironment(Effect.flatMap(Environment.Environment, (env) => Effect.zipRight(Human.say("a", "one"), env.lastSequence)))
      const second = yield* inEnvironment(Effect.flatMap(Environment.Environment, (env) =>
        Effect.map(env.publish("a", new Event.InterruptRequested({ participant: "x", runId: null })), (event) => event.sequence)))
      assert.strictEqual(second, first + 1)
    }))
})
