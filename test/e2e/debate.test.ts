import { assert, describe, it } from "@effect/vitest"
import { Effect, Fiber, TestClock } from "effect"
import { ContextItem, Environment, Human } from "@chorus/core"
import * as Debate from "../../examples/debate/debate.js"
import { events, payloads } from "../support/agents.js"

describe("examples/debate", () => {
  it.effect("two sides answer each other, a person interjects mid-debate, the judge closes after the exchanges", () =>
    Effect.gen(function*() {
      const env = yield* Environment.Environment
      const models = yield* Debate.scriptedModels("Tabs beat spaces", "100 millis")
      const verdict = yield* Debate.start({ topic: "Tabs beat spaces", exchanges: 3, models })
      const done = yield* Effect.fork(verdict)
      yield* Human.say("moderator", "Pro, you open.", { to: [Debate.pro] })
      // Let the first exchange happen, then interject while someone is speaking.
      let spoken = 0
      const waiting = yield* Effect.fork(env.waitFor((event) => event.payload._tag === "ItemDone" && event.author === Debate.con && ++spoken === 1))
      for (let i = 0; i < 100 && (yield* Fiber.poll(waiting))._tag === "None"; i++) yield* TestClock.adjust("100 millis")
      yield* Human.say("audience", "What about time zones?")
      for (let i = 0; i < 2_000 && (yield* Fiber.poll(done))._tag === "None"; i++) yield* TestClock.adjust("100 millis")
      const final = yield* Fiber.join(done)
      assert.strictEqual(final.author, Debate.judge)
      const all = yield* events
      const messages = payloads(all, "ItemDone").map((done) => done.item).filter((item) => item._tag === "ModelMessage")
      const count = (who: string) => messages.filter((item) => item.author === who).length
      // Three exchanges each (the interjection may add a reply, or be answered with a queued argument); one verdict.
      assert.strictEqual(count(Debate.judge), 1)
      assert.isAtLeast(count(Debate.pro), 3)
      assert.isAtLeast(count(Debate.con), 3)
      // The scripted sides argue about the topic they were given.
      for (const item of messages) assert.match(ContextItem.text(item), /tabs beat spaces/i, `${item.author}: ${ContextItem.text(item)}`)
      const answers = messages.filter((item) => ContextItem.text(item).includes("time zones"))
      assert.deepStrictEqual(answers.map((item) => item.author).sort(), [Debate.con, Debate.pro])
      // Nobody speaks after the verdict.
      const verdictAt = final.sequence
      yield* TestClock.adjust("1 minute")
      const later = payloads((yield* events).filter((event) => event.sequence > verdictAt), "RunStarted")
      assert.deepStrictEqual(later, [])
    }).pipe(Effect.provide(Environment.layerMemory())))
})
