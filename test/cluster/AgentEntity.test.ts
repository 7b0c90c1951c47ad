/**
 * Agents as entities, in one process on the cluster's test runner: placed by the cluster, woken by the events
 * that may make them act, passivated when idle, rebuilt from the environment's history.
 */
import { MessageStorage, TestRunner } from "@effect/cluster"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer, Ref, Schema, TestClock } from "effect"
import { ContextItem, Environment, Event, Human, InputStream, ScriptedModel, Tool, Toolkit } from "@chorus/core"
import { ClusterAgent, ClusterEnvironment, Journals } from "@chorus/cluster"
import { events, joinHuman, payloads, runEndedAdvancing } from "../support/agents.js"

const cluster = (agents: Record<string, ClusterAgent.Definition>) =>
  Layer.mergeAll(
    ClusterAgent.layerEntity({ maxIdleTime: "10 seconds" }),
    ClusterEnvironment.layerEntity({ maxIdleTime: "10 seconds" })
  ).pipe(
    Layer.provide(ClusterAgent.layerRegistry(agents)),
    Layer.provide(Journals.layerMemory),
    Layer.provideMerge(TestRunner.layer)
  )

/**
 * Runs the program with the environment `id` seen from this node, on a cluster hosting these agents.
 *
 * The clock ticks while the cluster shuts down: an entity waits for its open requests to end, and a live
 * agent's subscription is ended by an interrupt the shutting-down sharding retries on `sendRetryInterval`,
 * then gives up (the entity is then closed after `entityTerminationTimeout`).
 */
const inConversation = <A, E, R>(
  id: string,
  agents: Record<string, ClusterAgent.Definition>,
  program: Effect.Effect<A, E, R>
) =>
  Effect.scoped(Effect.gen(function*() {
    const outer = yield* Effect.scope
    const realMillisecond = Effect.promise(() => new Promise((resolve) => setTimeout(resolve, 1)))
    const ticking = Effect.forever(Effect.zipRight(TestClock.adjust("1 second"), realMillisecond))
    return yield* program.pipe(
      Effect.tap(() => Effect.forkIn(ticking, outer)),
      Effect.provide(ClusterEnvironment.layer(id).pipe(Layer.provideMerge(cluster(agents))))
    )
  }))

/** Counts the live instances of an agent: its node-local layer is built when it starts and released when it stops. */
const lifecycle = Effect.gen(function*() {
  const built = yield* Ref.make(0)
  const released = yield* Ref.make(0)
  const layer = Layer.scopedDiscard(
    Effect.acquireRelease(Ref.update(built, (n) => n + 1), () => Ref.update(released, (n) => n + 1))
  )
  return { built, released, layer }
})

/** Advances the clock until the condition holds (the reaper passes every 10 s here). */
const advanceUntil = (condition: Effect.Effect<boolean>, step: Parameters<typeof TestClock.adjust>[0] = "10 seconds") =>
  Effect.gen(function*() {
    for (let i = 0; i < 30 && !(yield* condition); i++) {
      yield* TestClock.adjust(step)
      for (let turn = 0; turn < 20; turn++) yield* Effect.yieldNow()
    }
    return yield* condition
  })

const modelTexts = (all: ReadonlyArray<Event.Event>, author: string) =>
  payloads(all, "ItemDone").map((done) => done.item).filter((item) =>
    item._tag === "ModelMessage" && item.author === author
  ).map(ContextItem.text)

describe("agents as entities", () => {
  it.effect("a hosted agent is placed by the cluster and answers through the clustered environment", () =>
    Effect.gen(function*() {
      const model = yield* ScriptedModel.make({ turns: [[ScriptedModel.text("hello alice")]] })
      const agents = { assistant: ClusterAgent.agent(() => ({ id: "assistant" }), model.layer) }
      yield* inConversation("room-1", agents, Effect.gen(function*() {
        // Under TestClock the test runner's sharding waits for one tick before it accepts messages.
        yield* TestClock.adjust(1)
        const env = yield* Environment.Environment
        yield* joinHuman("alice")
        const where = yield* ClusterAgent.add("room-1", "assistant")
        assert.strictEqual(where, "localhost:34431", "placed on the (only) runner")
        assert.deepStrictEqual((yield* env.members).map((member) => `${member.id}:${member.kind}`).sort(), [
          "alice:human",
          "assistant:agent"
        ])
        yield* Human.say("alice", "hi")
        const ended = yield* runEndedAdvancing("assistant")
        assert.strictEqual((ended.payload as Event.RunEnded).outcome, "completed")
        assert.deepStrictEqual(modelTexts(yield* events, "assistant"), ["hello alice"])
        // Adding it again is a wake: it is not joined twice.
        yield* ClusterAgent.add("room-1", "assistant")
        assert.strictEqual(payloads(yield* events, "ParticipantJoined").filter((joined) => joined.participant === "assistant").length, 1)
      }))
    }))

  it.effect("an unknown agent name is refused with a typed error, and nothing joins", () =>
    Effect.gen(function*() {
      yield* inConversation("room-2", {}, Effect.gen(function*() {
        // Under TestClock the test runner's sharding waits for one tick before it accepts messages.
        yield* TestClock.adjust(1)
        const env = yield* Environment.Environment
        const error = yield* Effect.flip(ClusterAgent.add("room-2", "nobody"))
        assert.strictEqual(error._tag, "AgentNotRegistered")
        assert.include(error.message, "nobody")
        assert.deepStrictEqual(yield* env.members, [])
      }))
    }))

  it.effect("an idle agent is passivated; the next message rebuilds it, with the first exchange in its context", () =>
    Effect.gen(function*() {
      const model = yield* ScriptedModel.make({ turns: [[ScriptedModel.text("first answer")], [ScriptedModel.text("second answer")]] })
      const instances = yield* lifecycle
      const agents = { assistant: ClusterAgent.agent(() => ({ id: "assistant" }), Layer.merge(model.layer, instances.layer)) }
      yield* inConversation("room-3", agents, Effect.gen(function*() {
        // Under TestClock the test runner's sharding waits for one tick before it accepts messages.
        yield* TestClock.adjust(1)
        yield* joinHuman("alice")
        yield* ClusterAgent.add("room-3", "assistant")
        yield* Human.say("alice", "one")
        yield* runEndedAdvancing("assistant")
        assert.strictEqual(yield* Ref.get(instances.released), 0)
        // Idle past maxIdleTime: passivated (its node-local layer is released).
        assert.isTrue(yield* advanceUntil(Effect.map(Ref.get(instances.released), (n) => n === 1)), "passivated")
        yield* Human.say("alice", "two")
        yield* runEndedAdvancing("assistant", 2)
        assert.strictEqual(yield* Ref.get(instances.built), 2, "rebuilt once, by the second message")
        const [, second] = yield* model.requests
        assert.deepStrictEqual(second!.items.map(ContextItem.text), ["alice: one", "first answer", "alice: two"])
        assert.deepStrictEqual(modelTexts(yield* events, "assistant"), ["first answer", "second answer"])
      }))
    }))

  it.effect("a woken agent holds a stored keep-alive before it acts; woken for nothing, it lets go after the settle time", () =>
    Effect.gen(function*() {
      const model = yield* ScriptedModel.make({ turns: [[ScriptedModel.text("hello")]] })
      const instances = yield* lifecycle
      const agents = { assistant: ClusterAgent.agent(() => ({ id: "assistant" }), Layer.merge(model.layer, instances.layer)) }
      yield* inConversation("room-6", agents, Effect.gen(function*() {
        // Under TestClock the test runner's sharding waits for one tick before it accepts messages.
        yield* TestClock.adjust(1)
        const storage = yield* MessageStorage.MemoryDriver
        // The persisted keep-alive a runner taking the shard over would redeliver (and so rebuild the agent).
        const keptAlive = Effect.sync(() =>
          [...storage.unprocessed].some((envelope) =>
            envelope._tag === "Request" && envelope.tag === "Cluster/Entity/keepAlive" && envelope.address.entityId.endsWith("assistant")
          )
        )
        // Added (a wake): the keep-alive is stored by the time the wake is answered, before the agent acts. Taken
        // only once the agent was seen busy, a move or a runner's death in between cut a run nothing resumed.
        yield* ClusterAgent.add("room-6", "assistant")
        assert.isTrue(yield* keptAlive, "kept alive from the wake on")
        // Nothing to do: after the settle time it lets go, and the idle instance is passivated.
        assert.isTrue(yield* advanceUntil(Effect.map(Ref.get(instances.released), (n) => n === 1)), "passivated")
        assert.isFalse(yield* keptAlive)
        // A message wakes it again: kept alive through its run, let go once it is seen idle.
        yield* Human.say("alice", "hi")
        yield* runEndedAdvancing("assistant")
        assert.isTrue(yield* advanceUntil(Effect.map(Ref.get(instances.released), (n) => n === 2)), "passivated again")
        assert.isFalse(yield* keptAlive)
      }))
    }))

  it.effect("a busy agent is kept alive: a long inference is not cut by passivation", () =>
    Effect.gen(function*() {
      const model = yield* ScriptedModel.make({ turns: [[ScriptedModel.pause("3 minutes"), ScriptedModel.text("slow but whole")]] })
      const instances = yield* lifecycle
      const agents = { assistant: ClusterAgent.agent(() => ({ id: "assistant" }), Layer.merge(model.layer, instances.layer)) }
      yield* inConversation("room-4", agents, Effect.gen(function*() {
        // Under TestClock the test runner's sharding waits for one tick before it accepts messages.
        yield* TestClock.adjust(1)
        const env = yield* Environment.Environment
        yield* joinHuman("alice")
        yield* ClusterAgent.add("room-4", "assistant")
        yield* Human.say("alice", "take your time")
        yield* env.waitFor((event) => event.payload._tag === "InferenceStarted")
        const ended = yield* runEndedAdvancing("assistant")
        assert.strictEqual((ended.payload as Event.RunEnded).outcome, "completed")
        assert.strictEqual(yield* Ref.get(instances.released), 0, "not passivated while busy")
        assert.deepStrictEqual(modelTexts(yield* events, "assistant"), ["slow but whole"])
        // Idle again: now it may go.
        assert.isTrue(yield* advanceUntil(Effect.map(Ref.get(instances.released), (n) => n === 1)), "passivated once idle")
      }))
    }))

  it.effect("an agent running a long function call is kept alive: the call is not cut by passivation", () =>
    Effect.gen(function*() {
      const slow = Tool.make("slow", {
        description: "Takes its time",
        parameters: Schema.Struct({}),
        handler: () => Effect.as(Effect.sleep("3 minutes"), "done")
      })
      const model = yield* ScriptedModel.make({
        turns: [[ScriptedModel.functionCall("slow", {}, { callId: "s1" })], [ScriptedModel.text("all done")]]
      })
      const instances = yield* lifecycle
      const agents = {
        worker: ClusterAgent.agent(() => ({ id: "worker" }), Layer.mergeAll(model.layer, Toolkit.make(slow).layer, instances.layer))
      }
      yield* inConversation("room-7", agents, Effect.gen(function*() {
        // Under TestClock the test runner's sharding waits for one tick before it accepts messages.
        yield* TestClock.adjust(1)
        const env = yield* Environment.Environment
        yield* joinHuman("alice")
        yield* ClusterAgent.add("room-7", "worker")
        yield* Human.say("alice", "go")
        yield* env.waitFor((event) => event.payload._tag === "StateChanged" && event.payload.to === "function_calls")
        const ended = yield* runEndedAdvancing("worker")
        assert.strictEqual((ended.payload as Event.RunEnded).outcome, "completed")
        assert.strictEqual(yield* Ref.get(instances.released), 0, "not passivated while its call runs")
        assert.deepStrictEqual(modelTexts(yield* events, "worker"), ["all done"])
      }))
    }))

  it.effect("an approval pending across passivation is answered once after the rebuild; the call runs once", () =>
    Effect.gen(function*() {
      const runs = yield* Ref.make<ReadonlyArray<string>>([])
      const deploy = Tool.make("deploy", {
        description: "Deploys",
        parameters: Schema.Struct({ target: Schema.String }),
        approval: "always",
        handler: ({ target }) => Effect.as(Ref.update(runs, (all) => [...all, target]), `deployed ${target}`)
      })
      const model = yield* ScriptedModel.make({
        turns: [[ScriptedModel.functionCall("deploy", { target: "prod" }, { callId: "d1" })], [ScriptedModel.text("prod is deployed")]]
      })
      const instances = yield* lifecycle
      const agents = {
        ops: ClusterAgent.agent(() => ({ id: "ops" }), Layer.mergeAll(model.layer, Toolkit.make(deploy).layer, instances.layer))
      }
      yield* inConversation("room-5", agents, Effect.gen(function*() {
        // Under TestClock the test runner's sharding waits for one tick before it accepts messages.
        yield* TestClock.adjust(1)
        const env = yield* Environment.Environment
        const alice = yield* joinHuman("alice")
        yield* ClusterAgent.add("room-5", "ops")
        yield* Human.say("alice", "deploy prod")
        yield* env.waitFor((event) => event.payload._tag === "ApprovalRequested")
        // Waiting for a person is idle: passivated with the approval pending.
        assert.isTrue(yield* advanceUntil(Effect.map(Ref.get(instances.released), (n) => n === 1)), "passivated")
        assert.deepStrictEqual(yield* Ref.get(runs), [])
        // The answer wakes it; rebuilt, it finds the approval pending and runs the call.
        yield* alice.offer(new InputStream.Approval({ callId: "d1", approved: true, reason: null }))
        const ended = yield* runEndedAdvancing("ops")
        assert.strictEqual((ended.payload as Event.RunEnded).outcome, "completed")
        assert.deepStrictEqual(yield* Ref.get(runs), ["prod"])
        assert.strictEqual(yield* Ref.get(instances.built), 2)
        // A second answer is refused; the call does not run again.
        yield* alice.offer(new InputStream.Approval({ callId: "d1", approved: true, reason: null }))
        yield* env.waitFor((event) => event.payload._tag === "ApprovalAnswerRefused")
        assert.deepStrictEqual(yield* Ref.get(runs), ["prod"])
        const output = (yield* model.requests)[1]!.items.find((item) => item._tag === "FunctionCallOutput")!
        assert.strictEqual(output.output, "deployed prod")
      }))
    }))
})
