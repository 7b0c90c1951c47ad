/**
 * Two scripted agents stream into one environment while a console observer
 * prints every delta as it arrives: the smallest Chorus program.
 *
 * Run: pnpm tsx examples/stream-demo.ts
 */
import { Effect } from "effect"
import { Agent, Environment, Human, Participant, ScriptedModel, Toolkit } from "@chorus/core"

const write = (text: string) => Effect.sync(() => process.stdout.write(text))

const printer = Participant.observer("console", (event) => {
  const payload = event.payload
  switch (payload._tag) {
    case "ItemAdded":
      return payload.item._tag === "ModelMessage" ? write(`\n[${event.author}] `) : Effect.void
    case "TextDelta":
      return write(payload.delta)
    case "ItemDone":
      return payload.item._tag === "UserMessage" ? write(`\n[${event.author}] ${payload.item.content.map((part) => part._tag === "InputText" ? part.text : "").join("")}`) : Effect.void
    case "RunEnded":
      return write(`\n  (${payload.participant}: run ${payload.outcome})`)
    default:
      return Effect.void
  }
}, { accepts: (event) => event.payload._tag !== "StateChanged" })

const program = Effect.gen(function*() {
  const env = yield* Environment.Environment
  yield* write("Chorus stream demo: two scripted agents answer at once; every delta is printed as it arrives.\n")
  yield* env.join(printer)
  const poet = yield* ScriptedModel.make({
    turns: [[ScriptedModel.text("Streams of small words arrive, each one as soon as it is written.")]],
    latency: "60 millis"
  })
  const critic = yield* ScriptedModel.make({
    turns: [[ScriptedModel.text("And nobody waits for the whole answer before reading the first word.")]],
    latency: "45 millis"
  })
  yield* env.join(Agent.make({ id: "poet" })).pipe(Effect.provide(poet.layer), Effect.provide(Toolkit.empty.layer))
  yield* env.join(Agent.make({ id: "critic" })).pipe(Effect.provide(critic.layer), Effect.provide(Toolkit.empty.layer))
  yield* Human.say("you", "Say something about streaming.")
  let ended = 0
  yield* env.waitFor((event) => event.payload._tag === "RunEnded" && ++ended === 2)
  yield* write("\n")
}).pipe(Effect.provide(Environment.layerMemory()))

Effect.runPromise(program)
