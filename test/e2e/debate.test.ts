import { assert, describe, it } from "@effect/vitest"
import { Effect, Fiber, TestClock } from "effect"
import { ContextItem, Environment, Human } from "@chorus/core"
import * as Debate from "../../examples/debate/debate.js"
import { events, payloads } from "../support/agents.js"
import { blocks, flat, server, session, shellQuote } from "./support/tmux.js"

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

  it.live("pnpm debate in a 70-column terminal: an interjection, then every speaker in its own block, wrapped, on topic", () =>
    Effect.gen(function*() {
      const { tmux } = yield* server
      const command = `env -u OPENAI_API_KEY ${shellQuote(process.execPath)} --import tsx examples/debate/main.ts 'Tabs beat spaces'`
      const debate = session(tmux, "debate", command, { columns: 70, rows: 40 })
      yield* debate.start
      yield* debate.waitForPrompt("audience ›")
      yield* debate.waitForText("pro \"Tabs beat spaces\": yes")
      yield* debate.type("What about time zones?")
      const screen = yield* debate.waitForText("[exited 0]", 90)
      for (const line of screen.split("\n")) assert.isAtMost(line.trimEnd().length, 69, line)
      const shown = blocks(screen.slice(0, screen.indexOf("[exited")))
      const said = (label: string) => shown.filter((block) => block.label === label).map((block) => block.body)
      assert.deepStrictEqual(said("audience"), ["What about time zones?"])
      // Each debater's block is one whole argument, on the topic; both answered the audience.
      for (const body of [...said("pro"), ...said("con")]) assert.match(body, /^(To the audience \("What about time zones\?"\): fair, yet )?.*tabs beat spaces.*[.]$/i, body)
      assert.isAtLeast(said("pro").length, 3)
      assert.isAtLeast(said("con").length, 3)
      assert.isTrue(said("pro").some((body) => body.startsWith("To the audience")))
      assert.isTrue(said("con").some((body) => body.startsWith("To the audience")))
      assert.match(said("judge").join(" "), /^Verdict on "Tabs beat spaces"/)
      assert.include(flat(screen), "judge · thinking Weighing both sides")
    }).pipe(Effect.scoped), { timeout: 120_000 })
})
