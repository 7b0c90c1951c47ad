/**
 * Two scripted agents stream into one environment at the same time, and the
 * library's terminal shows each answer in its own block as it grows: the
 * smallest Chorus program with a screen.
 *
 * Run: pnpm tsx examples/stream-demo.ts
 */
import { Effect } from "effect"
import { Agent, Environment, Human, ScriptedModel, Terminal } from "@chorus/core"

const program = Effect.gen(function*() {
  const env = yield* Environment.Environment
  const terminal = yield* Terminal.make()
  yield* terminal.print("Chorus stream demo: two scripted agents answer at once, each in its own block as it streams.", "bold")
  yield* env.join(terminal.renderer)
  const poet = yield* ScriptedModel.make({
    turns: [[ScriptedModel.text("Streams of small words arrive, each one as soon as it is written.")]],
    latency: "60 millis"
  })
  const critic = yield* ScriptedModel.make({
    turns: [[ScriptedModel.text("And nobody waits for the whole answer before reading the first word.")]],
    latency: "45 millis"
  })
  yield* env.join(Agent.make({ id: "poet" })).pipe(Effect.provide(poet.layer))
  yield* env.join(Agent.make({ id: "critic" })).pipe(Effect.provide(critic.layer))
  yield* Human.say("you", "Say something about streaming.")
  let ended = 0
  yield* env.waitFor((event) => event.payload._tag === "RunEnded" && ++ended === 2)
  yield* terminal.close
}).pipe(Effect.provide(Environment.layerMemory()))

Effect.runPromise(program)
