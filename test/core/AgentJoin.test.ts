/**
 * Joining: an agent's replay is bounded by the environment's index of the journal
 * (`Participant.replayTaken`), and an agent reads its mailbox directly (`Participant.serve`).
 * What it knows after joining is what it knew before: the fold of the journal.
 */
import { assert, describe, it } from "@effect/vitest"
import { Chunk, Deferred, Effect, Layer, Ref, Schema, Stream } from "effect"
import { Agent, ContextItem, Environment, Event, Human, InputStream, Journal, Participant, ScriptedModel, Tool, Toolkit } from "@chorus/core"
import * as History from "../../packages/core/src/internal/agent/history.js"
import { events, joinHuman, payloads, runEnded } from "../support/agents.js"

/** One journal shared by two environment lifetimes. */
const lifetimes = Effect.gen(function*() {
  const journal = yield* Journal.makeMemory
  const environment = Environment.layer().pipe(Layer.provide(Layer.succeed(Journal.Journal, journal)), Layer.orDie)
  return <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.provide(effect, environment)
})

/** Others join: events a newcomer has no part in. */
const crowd = (count: number) =>
  Effect.gen(function*() {
    const env = yield* Environment.Environment
    for (let i = 0; i < count; i++) yield* env.join(Participant.observer(`watcher-${i}`, () => Effect.void, { kinds: ["InterruptRequested"] }))
  })

/** A participant with the agent's filter that records the history its mailbox is handed. */
const probe = (id: string, seen: Deferred.Deferred<ReadonlyArray<Event.Event> | "none">) =>
  Participant.make({
    id,
    kind: "agent",
    kinds: ["ItemDone"],
    addressed: ["ParticipantJoined"],
    replay: true,
    replayTaken: true,
    run: () => Effect.never,
    serve: (mailbox) =>
      Effect.zipRight(
        mailbox.history === undefined
          ? Deferred.succeed(seen, "none")
          : Effect.flatMap(Stream.runCollect(mailbox.history), (history) => Deferred.succeed(seen, Chunk.toReadonlyArray(history))),
        Effect.never
      )
  })

describe("Agent: joining", () => {
  it.effect("a newcomer to a journal that holds nothing it takes replays nothing", () =>
    Effect.gen(function*() {
      yield* crowd(20)
      const seen = yield* Deferred.make<ReadonlyArray<Event.Event> | "none">()
      const env = yield* Environment.Environment
      yield* env.join(probe("newcomer", seen))
      assert.strictEqual(yield* Deferred.await(seen), "none")
    }).pipe(Effect.provide(Environment.layerMemory())))

  it.effect("a replay holds what the participant takes and what it published, nothing else", () =>
    Effect.gen(function*() {
      const env = yield* Environment.Environment
      yield* crowd(5)
      yield* Human.say("alice", "hello")
      yield* env.publish("probe", new Event.InterruptRequested({ participant: "someone", runId: null }))
      yield* crowd(0)
      const seen = yield* Deferred.make<ReadonlyArray<Event.Event> | "none">()
      yield* env.join(probe("probe", seen))
      const history = yield* Deferred.await(seen)
      assert.notStrictEqual(history, "none")
      const tags = (history as ReadonlyArray<Event.Event>).map((event) => `${event.author}:${event.payload._tag}`)
      assert.deepStrictEqual(tags, ["alice:ItemDone", "probe:InterruptRequested"])
    }).pipe(Effect.provide(Environment.layerMemory())))

  it.effect("an agent joining after others spoke has their conversation in its context, as before", () =>
    Effect.gen(function*() {
      const env = yield* Environment.Environment
      yield* crowd(10)
      const first = yield* ScriptedModel.make({ turns: [[ScriptedModel.text("first answer")]] })
      yield* env.join(Agent.make({ id: "first" })).pipe(Effect.provide(first.layer))
      yield* Human.say("alice", "question one")
      yield* runEnded("first")
      const late = yield* ScriptedModel.make({ turns: [[ScriptedModel.text("late answer")]] })
      yield* env.join(Agent.make({ id: "late", reactTo: "addressed" })).pipe(Effect.provide(late.layer))
      yield* Human.say("alice", "@late what did first say?")
      yield* runEnded("late")
      const [request] = yield* late.requests
      assert.deepStrictEqual(request!.items.map((item) => ContextItem.text(item)), [
        "alice: question one",
        "first: first answer",
        "alice: @late what did first say?"
      ])
    }).pipe(Effect.provide(Environment.layerMemory())))

  it.effect("an agent whose history starts after many others' events resumes it: a pending approval runs once", () =>
    Effect.gen(function*() {
      const inEnvironment = yield* lifetimes
      const runs = yield* Ref.make<ReadonlyArray<string>>([])
      const deploy = Tool.make("deploy", {
        description: "Deploys",
        parameters: Schema.Struct({ target: Schema.String }),
        approval: "always",
        handler: ({ target }) => Effect.as(Ref.update(runs, (all) => [...all, target]), `deployed ${target}`)
      })
      const joinOps = (turns: ReadonlyArray<ScriptedModel.Turn>) =>
        Effect.gen(function*() {
          const env = yield* Environment.Environment
          const model = yield* ScriptedModel.make({ turns })
          yield* env.join(Agent.make({ id: "ops" })).pipe(Effect.provide(model.layer), Effect.provide(Toolkit.make(deploy).layer))
          return model
        })
      yield* inEnvironment(Effect.gen(function*() {
        const env = yield* Environment.Environment
        yield* crowd(30)
        yield* joinOps([[ScriptedModel.functionCall("deploy", { target: "prod" }, { callId: "d1" })]])
        yield* Human.say("alice", "deploy prod")
        yield* env.waitFor((event) => event.payload._tag === "ApprovalRequested")
      }))
      const model = yield* inEnvironment(Effect.gen(function*() {
        yield* crowd(30)
        const model = yield* joinOps([[ScriptedModel.text("prod is deployed")]])
        const alice = yield* joinHuman("alice")
        yield* alice.offer(new InputStream.Approval({ callId: "d1", approved: true, reason: null }))
        const ended = yield* runEnded("ops")
        assert.strictEqual((ended.payload as Event.RunEnded).outcome, "completed")
        return model
      }))
      assert.deepStrictEqual(yield* Ref.get(runs), ["prod"])
      const all = yield* inEnvironment(events)
      assert.strictEqual(payloads(all, "ApprovalRequested").length, 1)
      const [request] = yield* model.requests
      assert.deepStrictEqual(request!.items.map((item) => item._tag), ["UserMessage", "FunctionCall", "FunctionCallOutput"])
    }))

  it("an agent that sees only its triggers does not take others' messages it cannot be started by", () => {
    const uses = History.uses("bot", false, "messages")
    const done = (author: string, item: ContextItem.ContextItem, to: ReadonlyArray<string> = []) =>
      new Event.Event({ sequence: 1, author, timestamp: 0, payload: new Event.ItemDone({ item, runId: null, to, policy: null }) })
    const model = (author: string, text: string) => ContextItem.modelText({ id: `m_${author}`, author, text })
    const user = ContextItem.userText({ id: "u1", author: "alice", text: "hi all" })
    assert.isFalse(uses(done("other", model("other", "my answer"))))
    assert.isTrue(uses(done("other", model("other", "@bot over to you"))))
    assert.isTrue(uses(done("alice", user)))
    assert.isFalse(uses(done("alice", user, ["someone-else"])))
    // An agent that sees others keeps every item.
    assert.isTrue(History.uses("bot", true, "messages")(done("other", model("other", "my answer"))))
  })
})
